//! Everyday std collections on top of `talcum::TalckWasm`.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::rc::{Rc, Weak};

use wasm_bindgen_test::wasm_bindgen_test;
use wasm_tests::{assert_talcum_is_global, talcum_arena, FixedState, XorShift64};

#[wasm_bindgen_test]
fn talcum_serves_the_allocations() {
    assert_talcum_is_global();
    // Growth through collections extends the same arena (nothing else grows memory here).
    let before = talcum_arena();
    let big: Vec<u8> = vec![1; 8 << 20];
    let after = talcum_arena();
    let at = big.as_ptr() as usize;
    assert!(after.contains(&at) && after.contains(&(at + big.len() - 1)));
    assert!(after.end >= before.end);
    assert_eq!(after.start, before.start, "the arena moved");
}

#[wasm_bindgen_test]
fn vec_push_pop_and_reserve() {
    let mut v: Vec<u64> = Vec::new();
    for i in 0..100_000u64 {
        v.push(i * 3);
    }
    assert_eq!(v.len(), 100_000);
    assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64 * 3));
    v.truncate(10);
    v.shrink_to_fit();
    assert!(v.capacity() >= 10);
    assert_eq!(v, [0, 3, 6, 9, 12, 15, 18, 21, 24, 27]);
    v.reserve_exact(1 << 20);
    assert!(v.capacity() >= (1 << 20) + 10);
    assert_eq!(v[9], 27);
    while let Some(x) = v.pop() {
        assert_eq!(x % 3, 0);
    }

    // Many vectors alive at once, of different element sizes.
    let bytes: Vec<Vec<u8>> = (0..500).map(|i| vec![i as u8; i]).collect();
    let words: Vec<Vec<u128>> = (0..500).map(|i| vec![i as u128; i % 37]).collect();
    for (i, b) in bytes.iter().enumerate() {
        assert_eq!(b.len(), i);
        assert!(b.iter().all(|&x| x == i as u8));
    }
    for (i, w) in words.iter().enumerate() {
        assert_eq!(w.len(), i % 37);
        assert!(w.iter().all(|&x| x == i as u128));
    }
}

#[wasm_bindgen_test]
fn vec_deque_wraps_and_grows() {
    let mut q = VecDeque::with_capacity(4);
    for i in 0..10_000u32 {
        q.push_back(i);
        if i % 3 == 0 {
            assert_eq!(q.pop_front(), Some(i / 3));
        }
    }
    let expect: Vec<u32> = (3334..10_000).collect();
    assert_eq!(q.iter().copied().collect::<Vec<_>>(), expect);
}

#[wasm_bindgen_test]
fn strings_grow_and_format() {
    let mut s = String::new();
    for i in 0..20_000 {
        s.push_str(&i.to_string());
        s.push(',');
    }
    let parsed: Vec<u32> =
        s.split(',').filter(|p| !p.is_empty()).map(|p| p.parse().unwrap()).collect();
    assert_eq!(parsed.len(), 20_000);
    assert!(parsed.iter().enumerate().all(|(i, &x)| x == i as u32));

    let words: Vec<String> =
        (0..2000).map(|i| format!("word-{i:05}-{}", "x".repeat(i % 50))).collect();
    let joined = words.join(" ");
    assert_eq!(joined.split(' ').count(), 2000);
    assert!(joined.starts_with("word-00000- word-00001-x"));
    let upper = joined.to_uppercase();
    assert_eq!(upper.len(), joined.len());
    assert!(upper.contains("WORD-01999-"));

    let mut shrink = "y".repeat(100_000);
    shrink.truncate(3);
    shrink.shrink_to_fit();
    assert_eq!(shrink, "yyy");
}

#[wasm_bindgen_test]
fn btreemap_insert_remove_iterate() {
    let mut rng = XorShift64::new(7);
    let mut map = BTreeMap::new();
    let mut keys = Vec::new();
    for i in 0..20_000u32 {
        let k = rng.next_u64() % 1_000_000;
        map.insert(k, (i, vec![i as u8; (k % 24) as usize]));
        keys.push(k);
    }
    for (k, (_, v)) in &map {
        assert_eq!(v.len(), (*k % 24) as usize);
    }
    // The last insert of a key wins.
    for (i, &k) in keys.iter().enumerate().rev().take(100) {
        let (stored, _) = &map[&k];
        assert!(*stored as usize >= i);
    }
    let before = map.len();
    let mut removed = 0;
    for &k in keys.iter().step_by(2) {
        if map.remove(&k).is_some() {
            removed += 1;
        }
    }
    assert_eq!(map.len(), before - removed);
    let sorted: Vec<u64> = map.keys().copied().collect();
    assert!(sorted.windows(2).all(|w| w[0] < w[1]));

    let set: BTreeSet<String> = (0..3000).map(|i| format!("{:x}", i * 7919)).collect();
    assert_eq!(set.len(), 3000);
    assert!(set.contains(&format!("{:x}", 2999 * 7919)));
}

#[wasm_bindgen_test]
fn hashmap_with_fixed_hasher() {
    let mut map: HashMap<String, Vec<u32>, FixedState> =
        HashMap::with_hasher(FixedState::default());
    for i in 0..30_000u32 {
        map.entry(format!("key{}", i % 10_007)).or_default().push(i);
    }
    assert_eq!(map.len(), 10_007);
    let total: usize = map.values().map(Vec::len).sum();
    assert_eq!(total, 30_000);
    assert_eq!(map["key5"], vec![5, 10_012, 20_019]);
    map.retain(|k, _| k.ends_with('1'));
    assert!(map.keys().all(|k| k.ends_with('1')));
    assert_eq!(map.len(), 1001);
    map.shrink_to_fit();
    assert_eq!(map["key10001"], vec![10_001, 20_008]);

    // Same inserts, same hasher: the iteration order is reproducible.
    let build = || {
        let mut m: HashMap<u64, u64, FixedState> = HashMap::default();
        for i in 0..1000 {
            m.insert(i * 31, i);
        }
        m.into_iter().collect::<Vec<_>>()
    };
    assert_eq!(build(), build());
}

trait Shape {
    fn area(&self) -> f64;
    fn name(&self) -> String;
}

struct Square(f64);
struct Rect {
    w: f64,
    h: f64,
    label: String,
}
struct Poly {
    points: Vec<(f64, f64)>,
}

impl Shape for Square {
    fn area(&self) -> f64 {
        self.0 * self.0
    }
    fn name(&self) -> String {
        "square".into()
    }
}

impl Shape for Rect {
    fn area(&self) -> f64 {
        self.w * self.h
    }
    fn name(&self) -> String {
        self.label.clone()
    }
}

impl Shape for Poly {
    fn area(&self) -> f64 {
        // Shoelace formula.
        let n = self.points.len();
        let twice: f64 = (0..n)
            .map(|i| {
                let (x0, y0) = self.points[i];
                let (x1, y1) = self.points[(i + 1) % n];
                x0 * y1 - x1 * y0
            })
            .sum();
        twice.abs() / 2.0
    }
    fn name(&self) -> String {
        format!("poly{}", self.points.len())
    }
}

#[wasm_bindgen_test]
fn boxed_trait_objects() {
    let mut shapes: Vec<Box<dyn Shape>> = Vec::new();
    for i in 0..3000 {
        let s: Box<dyn Shape> = match i % 3 {
            0 => Box::new(Square(i as f64)),
            1 => Box::new(Rect { w: 2.0, h: i as f64, label: format!("rect{i}") }),
            _ => Box::new(Poly {
                points: vec![(0.0, 0.0), (i as f64, 0.0), (i as f64, 1.0), (0.0, 1.0)],
            }),
        };
        shapes.push(s);
    }
    for (i, s) in shapes.iter().enumerate() {
        let f = i as f64;
        match i % 3 {
            0 => {
                assert_eq!(s.area(), f * f);
                assert_eq!(s.name(), "square");
            }
            1 => {
                assert_eq!(s.area(), 2.0 * f);
                assert_eq!(s.name(), format!("rect{i}"));
            }
            _ => {
                assert_eq!(s.area(), f);
                assert_eq!(s.name(), "poly4");
            }
        }
    }
    // Drop every other one, then refill the holes with differently sized objects.
    let mut i = 0;
    shapes.retain(|_| {
        i += 1;
        i % 2 == 0
    });
    assert_eq!(shapes.len(), 1500);
    for j in 0..1500 {
        shapes.push(Box::new(Rect { w: 1.0, h: j as f64, label: "r".repeat(j % 100) }));
    }
    let total: f64 = shapes[1500..].iter().map(|s| s.area()).sum();
    assert_eq!(total, (0..1500).sum::<i32>() as f64);
}

struct Node {
    value: u32,
    parent: RefCell<Weak<Node>>,
    children: RefCell<Vec<Rc<Node>>>,
}

#[wasm_bindgen_test]
fn rc_trees_and_weak_links() {
    let root = Rc::new(Node {
        value: 0,
        parent: RefCell::new(Weak::new()),
        children: RefCell::new(Vec::new()),
    });
    let mut frontier = vec![root.clone()];
    let mut count = 1u32;
    for _depth in 0..6 {
        let mut next = Vec::new();
        for n in &frontier {
            for _ in 0..4 {
                let child = Rc::new(Node {
                    value: count,
                    parent: RefCell::new(Rc::downgrade(n)),
                    children: RefCell::new(Vec::new()),
                });
                count += 1;
                n.children.borrow_mut().push(child.clone());
                next.push(child);
            }
        }
        frontier = next;
    }
    assert_eq!(count, 1 + 4 + 16 + 64 + 256 + 1024 + 4096);
    // Every leaf walks back up to the root through its weak parent links.
    for leaf in &frontier {
        let mut depth = 0;
        let mut cur = leaf.clone();
        loop {
            let parent = cur.parent.borrow().upgrade();
            match parent {
                Some(p) => {
                    assert!(p.value < cur.value);
                    cur = p;
                    depth += 1;
                }
                None => break,
            }
        }
        assert_eq!(depth, 6);
        assert_eq!(cur.value, 0);
    }
    let weak_leaf = Rc::downgrade(&frontier[123]);
    drop(frontier);
    assert!(weak_leaf.upgrade().is_some());
    assert_eq!(Rc::strong_count(&root), 1);
    drop(root);
    // The whole tree is gone once the root goes.
    assert!(weak_leaf.upgrade().is_none());

    let shared: Rc<[u64]> = (0..10_000u64).collect();
    let clones: Vec<Rc<[u64]>> = (0..100).map(|_| shared.clone()).collect();
    assert_eq!(Rc::strong_count(&shared), 101);
    assert_eq!(clones[99][9999], 9999);
}
