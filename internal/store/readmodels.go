package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

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
type ReadModel[T any] struct {
	kv jetstream.KeyValue
}

// OpenReadModel binds to a provisioned bucket.
func OpenReadModel[T any](ctx context.Context, js jetstream.JetStream, bucket string) (*ReadModel[T], error) {
	kv, err := js.KeyValue(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("read model %s: %w", bucket, err)
	}
	return &ReadModel[T]{kv: kv}, nil
}

// Bucket is the underlying bucket.
func (r *ReadModel[T]) Bucket() jetstream.KeyValue { return r.kv }

// Get returns the document, or false when there is none.
func (r *ReadModel[T]) Get(ctx context.Context, key string) (T, bool, error) {
	var v T
	e, err := r.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return v, false, nil
	}
	if err != nil {
		return v, false, fmt.Errorf("read model get %s: %w", key, err)
	}
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return v, false, fmt.Errorf("read model %s: corrupt document: %w", key, err)
	}
	return v, true, nil
}

// Update reads the document (zero value when absent), lets fn change it,
// and writes it back only if the key still has the revision read; on a
// lost race it reads again and repeats. fn reports whether it changed
// anything (nothing is written otherwise) and must be repeatable.
func (r *ReadModel[T]) Update(ctx context.Context, key string, fn func(doc *T) (bool, error)) error {
	for range casAttempts {
		var doc T
		var rev uint64
		e, err := r.kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return fmt.Errorf("read model get %s: %w", key, err)
		default:
			rev = e.Revision()
			if err := json.Unmarshal(e.Value(), &doc); err != nil {
				return fmt.Errorf("read model %s: corrupt document: %w", key, err)
			}
		}
		changed, err := fn(&doc)
		if err != nil || !changed {
			return err
		}
		data, err := json.Marshal(&doc)
		if err != nil {
			return fmt.Errorf("read model %s: %w", key, err)
		}
		if rev == 0 {
			_, err = r.kv.Create(ctx, key, data)
		} else {
			_, err = r.kv.Update(ctx, key, data, rev)
		}
		if isRevisionConflict(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read model put %s: %w", key, err)
		}
		return nil
	}
	return fmt.Errorf("%w: %s", ErrCASExhausted, key)
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
