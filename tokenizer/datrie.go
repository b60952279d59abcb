package tokenizer

import "sort"

// doubleArray is a double-array byte trie used for longest-prefix lookups
// in model vocabularies: one array access per input byte, no hashing.
// Node 0 is the root; a transition from node n on byte c goes to
// t = base[n] + c when check[t] == n. value[n] is the index of the key
// ending at n, or -1.
type doubleArray struct {
	base, check, value []int32
}

// buildDoubleArray indexes keys (any order, no duplicates); value i refers
// to keys[i].
func buildDoubleArray(keys []string) *doubleArray {
	idx := make([]int32, len(keys))
	for i := range idx {
		idx[i] = int32(i)
	}
	sort.Slice(idx, func(a, b int) bool { return keys[idx[a]] < keys[idx[b]] })
	b := &daBuilder{d: &doubleArray{}, keys: keys, idx: idx}
	b.grow(1024)
	b.use(0, 0) // root
	b.build(0, 0, len(idx), 0)
	d := b.d
	// Trim the unused tail.
	last := len(d.check) - 1
	for last > 0 && d.check[last] < 0 {
		last--
	}
	d.base, d.check, d.value = d.base[:last+1], d.check[:last+1], d.value[:last+1]
	return d
}

// daBuilder keeps the free cells in a doubly linked list (next/prev, with
// -1 ending it) so that the search for a base skips occupied cells.
type daBuilder struct {
	d          *doubleArray
	keys       []string
	idx        []int32
	next, prev []int32
	head, tail int32
}

func (b *daBuilder) grow(n int) {
	d := b.d
	for i := len(d.check); i < n; i++ {
		d.base = append(d.base, 0)
		d.check = append(d.check, -1)
		d.value = append(d.value, -1)
		b.next = append(b.next, -1)
		b.prev = append(b.prev, -1)
		if len(d.check) == 1 {
			b.head, b.tail = 0, 0
			continue
		}
		if b.tail < 0 {
			b.head = int32(i)
		} else {
			b.next[b.tail] = int32(i)
			b.prev[i] = b.tail
		}
		b.tail = int32(i)
	}
}

// use marks cell t as a child of parent, unlinking it from the free list.
func (b *daBuilder) use(t int, parent int32) {
	b.d.check[t] = parent
	p, n := b.prev[t], b.next[t]
	if p >= 0 {
		b.next[p] = n
	} else {
		b.head = n
	}
	if n >= 0 {
		b.prev[n] = p
	} else {
		b.tail = p
	}
}

// build lays out the children of node, which covers the sorted keys
// idx[lo:hi] sharing their first depth bytes.
func (b *daBuilder) build(node int32, lo, hi, depth int) {
	d := b.d
	// A key ending here sorts first.
	if lo < hi && len(b.keys[b.idx[lo]]) == depth {
		d.value[node] = b.idx[lo]
		lo++
	}
	if lo >= hi {
		return
	}
	type child struct {
		c      byte
		lo, hi int
	}
	var children []child
	for i := lo; i < hi; {
		c := b.keys[b.idx[i]][depth]
		j := i + 1
		for j < hi && b.keys[b.idx[j]][depth] == c {
			j++
		}
		children = append(children, child{c, i, j})
		i = j
	}
	// Place the first child on successive free cells until all fit.
	first := int(children[0].c)
	base := 0
	for cell := b.head; ; {
		if cell < 0 {
			// No free cell left: extend the array past its end.
			base = max(len(d.check)-first, 1)
			b.grow(base + 256)
			break
		}
		base = int(cell) - first
		if base >= 1 {
			ok := true
			for _, ch := range children[1:] {
				t := base + int(ch.c)
				if t >= len(d.check) {
					b.grow(t + 256)
				}
				if d.check[t] >= 0 {
					ok = false
					break
				}
			}
			if ok {
				break
			}
		}
		cell = b.next[cell]
	}
	d.base[node] = int32(base)
	for _, ch := range children {
		b.use(base+int(ch.c), node)
	}
	for _, ch := range children {
		b.build(int32(base+int(ch.c)), ch.lo, ch.hi, depth+1)
	}
}

// walk follows s from node; ok=false when some byte has no transition.
func (d *doubleArray) walk(node int32, s string) (int32, bool) {
	for i := 0; i < len(s); i++ {
		t := d.base[node] + int32(s[i])
		if t < 0 || int(t) >= len(d.check) || d.check[t] != node {
			return 0, false
		}
		node = t
	}
	return node, true
}

// longestPrefix returns the value and length of the longest key that, appended
// to the path of node, matches a prefix of s; ok=false when none does.
func (d *doubleArray) longestPrefix(node int32, s []byte) (value int32, n int, ok bool) {
	value = -1
	for i := 0; i < len(s); i++ {
		t := d.base[node] + int32(s[i])
		if t < 0 || int(t) >= len(d.check) || d.check[t] != node {
			break
		}
		node = t
		if v := d.value[node]; v >= 0 {
			value, n = v, i+1
		}
	}
	return value, n, value >= 0
}
