package tokenizer

import (
	"sync"
	"sync/atomic"
)

// wordCache maps a word to its model tokens. Reads are lock-free: they look
// up an immutable map published through an atomic pointer. New entries
// collect under a mutex and are published in batches (copy-on-write, so the
// cost per entry stays constant). Once capacity entries exist the cache
// stops growing, like the crate's per-model cache; it never evicts.
type wordCache struct {
	read     atomic.Pointer[map[string][]token]
	mu       sync.Mutex
	pending  map[string][]token
	full     atomic.Bool
	capacity int
}

func newWordCache(capacity int) *wordCache {
	c := &wordCache{capacity: capacity}
	m := map[string][]token{}
	c.read.Store(&m)
	return c
}

func (c *wordCache) get(word []byte) ([]token, bool) {
	toks, ok := (*c.read.Load())[string(word)]
	return toks, ok
}

// put records a copy of toks for word.
func (c *wordCache) put(word []byte, toks []token) {
	if c.full.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := *c.read.Load()
	n := len(cur) + len(c.pending)
	if n >= c.capacity {
		c.full.Store(true)
		return
	}
	if c.pending == nil {
		c.pending = map[string][]token{}
	}
	key := string(word)
	if _, ok := cur[key]; ok {
		return
	}
	c.pending[key] = append([]token(nil), toks...)
	// Publish when the batch reaches a quarter of the published size (and
	// at least a few entries), or when the cache becomes full.
	if len(c.pending) >= max(16, len(cur)/4) || n+1 >= c.capacity {
		next := make(map[string][]token, len(cur)+len(c.pending))
		for k, v := range cur {
			next[k] = v
		}
		for k, v := range c.pending {
			next[k] = v
		}
		c.read.Store(&next)
		c.pending = nil
	}
}
