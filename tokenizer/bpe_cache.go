package tokenizer

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// wordCache maps a word (shorter than 256 bytes) to its model tokens, as ids
// and byte lengths. Entries live in one append-only arena and an
// open-addressing table of (hash tag, arena offset) slots, so a lookup
// touches two cache lines and allocates nothing.
//
// Reads are lock-free: they use an immutable snapshot (slot table and arena
// prefix) published through an atomic pointer. New entries collect under a
// mutex and are published in batches; the arena is shared between
// snapshots (readers never look past their own prefix), the slot table is
// copied. Once maxEntries entries or maxArena bytes are used the cache
// stops growing (it never evicts), like the crate's cache.
type wordCache struct {
	snap atomic.Pointer[cacheSnap]
	full atomic.Bool

	mu      sync.Mutex
	arena   []byte   // shared with snapshots up to their length
	pending []uint32 // arena offsets of entries not yet published
	seed    maphash.Seed

	maxEntries, maxArena int
}

type cacheSnap struct {
	slots []uint64 // tag<<32 | (offset+1); 0 = empty
	mask  uint64
	arena []byte
	n     int
}

// Arena entry: key length (1 byte), key, token count (1 byte), then per
// token its id (4 bytes, little endian) and byte length (1 byte).

func newWordCache(maxEntries, maxArena int) *wordCache {
	c := &wordCache{seed: maphash.MakeSeed(), maxEntries: maxEntries, maxArena: maxArena}
	c.snap.Store(&cacheSnap{slots: make([]uint64, 16), mask: 15})
	return c
}

// find returns the arena entry of word after its key (token count first).
func (c *wordCache) find(s *cacheSnap, word []byte) ([]byte, bool) {
	if s.n == 0 {
		return nil, false
	}
	h := maphash.Bytes(c.seed, word)
	tag := h >> 32
	for i := h & s.mask; ; i = (i + 1) & s.mask {
		v := s.slots[i]
		if v == 0 {
			return nil, false
		}
		if v>>32 != tag {
			continue
		}
		a := s.arena[int(uint32(v))-1:]
		if k := int(a[0]); k == len(word) && bytes.Equal(a[1:1+k], word) {
			return a[1+k:], true
		}
	}
}

// get appends the cached tokens of word to out.
func (c *wordCache) get(word []byte, m *bpeModel, out []token) ([]token, bool) {
	a, ok := c.find(c.snap.Load(), word)
	if !ok {
		return out, false
	}
	n := int(a[0])
	a = a[1:]
	pos := 0
	for j := 0; j < n; j++ {
		id := int32(binary.LittleEndian.Uint32(a[5*j:]))
		l := int(a[5*j+4])
		out = append(out, token{id: int(id), value: m.tokOf(id), start: pos, end: pos + l})
		pos += l
	}
	return out, true
}

// put records the tokens of word (len(word) < 256, tokens tiling it).
func (c *wordCache) put(word []byte, toks []token) {
	if c.full.Load() || len(word) > 255 || len(toks) > 255 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.snap.Load()
	size := 2 + len(word) + 5*len(toks)
	if s.n+len(c.pending) >= c.maxEntries || len(c.arena)+size > c.maxArena {
		c.full.Store(true)
		return
	}
	if _, ok := c.find(s, word); ok {
		return // a concurrent caller got there first (pending duplicates are harmless)
	}
	off := len(c.arena)
	c.arena = append(c.arena, byte(len(word)))
	c.arena = append(c.arena, word...)
	c.arena = append(c.arena, byte(len(toks)))
	for _, t := range toks {
		c.arena = binary.LittleEndian.AppendUint32(c.arena, uint32(t.id))
		c.arena = append(c.arena, byte(t.end-t.start))
	}
	c.pending = append(c.pending, uint32(off))
	if len(c.pending) >= max(16, s.n/4) || s.n+len(c.pending) >= c.maxEntries {
		c.publish(s)
	}
}

// publish builds a snapshot with the pending entries added.
func (c *wordCache) publish(old *cacheSnap) {
	n := old.n + len(c.pending)
	size := 16
	for size < 2*n {
		size <<= 1
	}
	ns := &cacheSnap{slots: make([]uint64, size), mask: uint64(size - 1), arena: c.arena, n: n}
	insert := func(off uint32) {
		k := int(c.arena[off])
		h := maphash.Bytes(c.seed, c.arena[off+1:int(off)+1+k])
		for i := h & ns.mask; ; i = (i + 1) & ns.mask {
			if ns.slots[i] == 0 {
				ns.slots[i] = (h>>32)<<32 | uint64(off+1)
				return
			}
		}
	}
	for _, v := range old.slots {
		if v != 0 {
			insert(uint32(v) - 1)
		}
	}
	for _, off := range c.pending {
		insert(off)
	}
	c.pending = c.pending[:0]
	c.snap.Store(ns)
}
