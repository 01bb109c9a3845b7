package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrCASExhausted: too many concurrent writers kept changing one key.
// It is transient: the message is retried.
var ErrCASExhausted = errors.New("read model: compare-and-set retries exhausted")

// casAttempts bounds the compare-and-set loop of one update.
const casAttempts = 16

// ReadModel is a KV bucket of JSON documents of type T, keyed by person id,
// updated with compare-and-set on the key's revision so concurrent
// projector replicas never lose an update.
//
// It may keep the documents it wrote, with their revisions, in a bounded
// per-process cache: an update then skips the read, and a stale entry
// (another replica wrote since) costs one failed compare-and-set and a
// fresh read.
type ReadModel[T any] struct {
	kv    jetstream.KeyValue
	mu    sync.Mutex
	max   int
	cache map[string]cachedDoc[T]
}

type cachedDoc[T any] struct {
	doc T
	rev uint64
}

// OpenReadModel binds to a provisioned bucket; cacheSize (0: none) bounds
// the documents kept in memory.
func OpenReadModel[T any](ctx context.Context, js jetstream.JetStream, bucket string, cacheSize int) (*ReadModel[T], error) {
	kv, err := js.KeyValue(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("read model %s: %w", bucket, err)
	}
	return &ReadModel[T]{kv: kv, max: cacheSize, cache: make(map[string]cachedDoc[T])}, nil
}

// Bucket is the underlying bucket.
func (r *ReadModel[T]) Bucket() jetstream.KeyValue { return r.kv }

// Get returns the stored document, or false when there is none.
func (r *ReadModel[T]) Get(ctx context.Context, key string) (T, bool, error) {
	c, err := r.read(ctx, key)
	return c.doc, c.rev != 0, err
}

// Update reads the document (zero value when absent), lets fn change it,
// and writes it back only if the key still has the revision read; on a
// lost race it reads again and repeats. fn reports whether it changed
// anything (nothing is written otherwise) and must be repeatable.
func (r *ReadModel[T]) Update(ctx context.Context, key string, fn func(doc *T) (bool, error)) error {
	for range casAttempts {
		// take, not peek: while fn works on the document, a failed write
		// must not leave a half-changed copy in the cache.
		c, cached := r.take(key)
		if !cached {
			var err error
			if c, err = r.read(ctx, key); err != nil {
				return err
			}
		}
		doc, rev := c.doc, c.rev
		changed, err := fn(&doc)
		if err != nil {
			return err
		}
		if !changed {
			r.keep(key, doc, rev)
			return nil
		}
		data, err := json.Marshal(&doc)
		if err != nil {
			return fmt.Errorf("read model %s: %w", key, err)
		}
		var newRev uint64
		if rev == 0 {
			newRev, err = r.kv.Create(ctx, key, data)
		} else {
			newRev, err = r.kv.Update(ctx, key, data, rev)
		}
		if isRevisionConflict(err) {
			continue // another writer won: read again
		}
		if err != nil {
			return fmt.Errorf("read model put %s: %w", key, err)
		}
		r.keep(key, doc, newRev)
		return nil
	}
	return fmt.Errorf("%w: %s", ErrCASExhausted, key)
}

func (r *ReadModel[T]) read(ctx context.Context, key string) (cachedDoc[T], error) {
	var c cachedDoc[T]
	e, err := r.kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return c, nil
	case err != nil:
		return c, fmt.Errorf("read model get %s: %w", key, err)
	}
	if err := json.Unmarshal(e.Value(), &c.doc); err != nil {
		return c, fmt.Errorf("read model %s: corrupt document: %w", key, err)
	}
	c.rev = e.Revision()
	return c, nil
}

func (r *ReadModel[T]) take(key string) (cachedDoc[T], bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.cache[key]
	if ok {
		delete(r.cache, key)
	}
	return c, ok
}

func (r *ReadModel[T]) keep(key string, doc T, rev uint64) {
	if r.max <= 0 || rev == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.cache) >= r.max {
		for k := range r.cache { // evict an arbitrary entry
			delete(r.cache, k)
			break
		}
	}
	r.cache[key] = cachedDoc[T]{doc: doc, rev: rev}
}

func isRevisionConflict(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, jetstream.ErrKeyExists) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// Keys lists every key (for list and search queries, and verification).
func (r *ReadModel[T]) Keys(ctx context.Context) ([]string, error) {
	keys, err := r.kv.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	return keys, err
}
