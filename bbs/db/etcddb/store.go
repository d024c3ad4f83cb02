package etcddb

import (
	"context"
	"log/slog"
	"slices"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"diego/models"
)

// maxTxnOps stays within etcd's default --max-txn-ops (128).
const maxTxnOps = 128

// protoPtr lets the generic helpers allocate a record: P is *T and a
// proto.Message.
type protoPtr[T any] interface {
	*T
	proto.Message
}

// indexChange is the index keys to put (with empty values) and delete in the
// transaction that writes a record.
type indexChange struct {
	put []string
	del []string
}

// diffIndex returns the change that takes a record's index keys from before
// to after; keys in both are left alone.
func diffIndex(before, after []string) indexChange {
	var c indexChange
	for _, k := range after {
		if !slices.Contains(before, k) {
			c.put = append(c.put, k)
		}
	}
	for _, k := range before {
		if !slices.Contains(after, k) {
			c.del = append(c.del, k)
		}
	}
	return c
}

func (c indexChange) ops() []clientv3.Op {
	ops := make([]clientv3.Op, 0, len(c.put)+len(c.del))
	for _, k := range c.put {
		ops = append(ops, clientv3.OpPut(k, ""))
	}
	for _, k := range c.del {
		ops = append(ops, clientv3.OpDelete(k))
	}
	return ops
}

// getRecord reads and decodes the record at key and returns it with its
// ModRevision, the revision a later compareAndSwap or compareAndDelete must
// compare against. A missing key is ResourceNotFound.
func getRecord[T any, P protoPtr[T]](ctx context.Context, kv clientv3.KV, key string) (P, int64, error) {
	resp, err := kv.Get(ctx, key)
	if err != nil {
		return nil, 0, etcdError("get", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, keyError(key, models.ErrResourceNotFound)
	}
	kvp := resp.Kvs[0]
	var rec P = new(T)
	if err := decode(key, kvp.Value, rec); err != nil {
		return nil, 0, err
	}
	return rec, kvp.ModRevision, nil
}

// getRecords reads the records at keys as of revision rev (0: the revision
// the first read sees, so that the whole read is one snapshot) in as few
// round trips as etcd's transaction limit allows. Missing keys are left out;
// a record that cannot be decoded is logged and skipped.
func getRecords[T any, P protoPtr[T]](ctx context.Context, logger *slog.Logger, kv clientv3.KV, keys []string, rev int64) ([]P, error) {
	kvs, _, err := getKVs(ctx, kv, keys, rev)
	if err != nil {
		return nil, err
	}
	out := make([]P, 0, len(kvs))
	for _, kvp := range kvs {
		out = appendDecoded(logger, out, kvp.Key, kvp.Value)
	}
	return out, nil
}

// listRecords decodes every record under prefix with one range read,
// logging and skipping the ones that cannot be decoded. Nothing is deleted:
// pruning bad records is convergence's job.
func listRecords[T any, P protoPtr[T]](ctx context.Context, logger *slog.Logger, kv clientv3.KV, prefix string) ([]P, error) {
	resp, err := kv.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, etcdError("range", prefix, err)
	}
	out := make([]P, 0, len(resp.Kvs))
	for _, kvp := range resp.Kvs {
		out = appendDecoded(logger, out, kvp.Key, kvp.Value)
	}
	return out, nil
}

func appendDecoded[T any, P protoPtr[T]](logger *slog.Logger, out []P, key, value []byte) []P {
	var rec P = new(T)
	if err := decode(string(key), value, rec); err != nil {
		logger.Error("skipping-undecodable-record", "key", string(key), "error", err)
		return out
	}
	return append(out, rec)
}

// indexedGuids returns the guids (last segments) of the index keys under
// prefix, and the revision they were read at.
func indexedGuids(ctx context.Context, kv clientv3.KV, prefix string) ([]string, int64, error) {
	resp, err := kv.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, 0, etcdError("range", prefix, err)
	}
	guids := make([]string, 0, len(resp.Kvs))
	for _, kvp := range resp.Kvs {
		if g, ok := guidFromIndexKey(string(kvp.Key)); ok {
			guids = append(guids, g)
		}
	}
	return guids, resp.Header.Revision, nil
}

// create writes msg at key only if the key does not exist
// (CreateRevision == 0), together with the index keys; ResourceExists if it
// does.
func create(ctx context.Context, kv clientv3.KV, key string, msg proto.Message, idx indexChange) error {
	value, err := encode(msg)
	if err != nil {
		return err
	}
	return commit(ctx, kv, key, "create",
		clientv3.Compare(clientv3.CreateRevision(key), "=", 0),
		clientv3.OpPut(key, string(value)), idx, models.ErrResourceExists)
}

// compareAndSwap writes msg at key only if the key is still at rev
// (ModRevision == rev), together with the index change; ResourceConflict
// if anything wrote or deleted the key since.
func compareAndSwap(ctx context.Context, kv clientv3.KV, key string, rev int64, msg proto.Message, idx indexChange) error {
	value, err := encode(msg)
	if err != nil {
		return err
	}
	return commit(ctx, kv, key, "compare-and-swap",
		clientv3.Compare(clientv3.ModRevision(key), "=", rev),
		clientv3.OpPut(key, string(value)), idx, models.ErrResourceConflict)
}

// compareAndDelete deletes key only if it is still at rev, together with
// the index change; ResourceConflict if it is not.
func compareAndDelete(ctx context.Context, kv clientv3.KV, key string, rev int64, idx indexChange) error {
	return commit(ctx, kv, key, "compare-and-delete",
		clientv3.Compare(clientv3.ModRevision(key), "=", rev),
		clientv3.OpDelete(key), idx, models.ErrResourceConflict)
}

// commit is commitTxn for one guarded write and its index change.
func commit(ctx context.Context, kv clientv3.KV, key, op string, cmp clientv3.Cmp, write clientv3.Op, idx indexChange, failed *models.Error) error {
	return commitTxn(ctx, kv, key, op, []clientv3.Cmp{cmp}, append([]clientv3.Op{write}, idx.ops()...), failed)
}
