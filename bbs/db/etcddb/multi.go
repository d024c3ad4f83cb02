package etcddb

import (
	"context"
	"math"
	"slices"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"diego/models"
)

// Helpers for the operations that read or write more than one record in a
// transaction (desired LRPs, actual LRPs with their evacuating twin). The
// single-record recipe lives in store.go.

// unchanged is the guard that a key is still as it was read: at revision
// rev, or still absent when rev is 0 (nothing was there).
func unchanged(key string, rev int64) clientv3.Cmp {
	if rev == 0 {
		return clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
	}
	return clientv3.Compare(clientv3.ModRevision(key), "=", rev)
}

// commitTxn applies ops if every guard holds, else fails with failed naming
// key. Store failures are UnknownError.
func commitTxn(ctx context.Context, kv clientv3.KV, key, op string, cmps []clientv3.Cmp, ops []clientv3.Op, failed *models.Error) error {
	if wr := roundOf(ctx); wr != nil {
		wr.committed = true
	}
	resp, err := kv.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return etcdError(op, key, err)
	}
	if !resp.Succeeded {
		return &lostRace{key: key, failed: failed}
	}
	return nil
}

// getKVs reads keys in as few transactions as etcd allows, all at one
// revision: rev, or (rev 0) the revision the first read saw. Missing keys
// are left out. It returns the revision read at.
func getKVs(ctx context.Context, kv clientv3.KV, keys []string, rev int64) ([]*mvccpb.KeyValue, int64, error) {
	var out []*mvccpb.KeyValue
	for chunk := range slices.Chunk(keys, maxTxnOps) {
		ops := make([]clientv3.Op, len(chunk))
		for i, k := range chunk {
			if rev > 0 {
				ops[i] = clientv3.OpGet(k, clientv3.WithRev(rev))
			} else {
				ops[i] = clientv3.OpGet(k)
			}
		}
		resp, err := kv.Txn(ctx).Then(ops...).Commit()
		if err != nil {
			return nil, 0, etcdError("get", chunk[0], err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, r := range resp.Responses {
			out = append(out, r.GetResponseRange().GetKvs()...)
		}
	}
	return out, rev, nil
}

// getPrefixes reads every key under each prefix in one transaction, so
// the ranges are one consistent snapshot.
func getPrefixes(ctx context.Context, kv clientv3.KV, prefixes ...string) ([][]*mvccpb.KeyValue, error) {
	ops := make([]clientv3.Op, len(prefixes))
	for i, p := range prefixes {
		ops[i] = clientv3.OpGet(p, clientv3.WithPrefix())
	}
	resp, err := kv.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return nil, etcdError("range", prefixes[0], err)
	}
	out := make([][]*mvccpb.KeyValue, len(resp.Responses))
	for i, r := range resp.Responses {
		out[i] = r.GetResponseRange().GetKvs()
	}
	return out, nil
}

// leaseSeconds is ttl in whole seconds, rounded up, at least 1.
func leaseSeconds(ttl time.Duration) int64 {
	return max(1, int64(math.Ceil(ttl.Seconds())))
}

// grantLease grants a lease of ttl for a leased write.
func grantLease(ctx context.Context, lease clientv3.Lease, key string, ttl time.Duration) (clientv3.LeaseID, error) {
	resp, err := lease.Grant(ctx, leaseSeconds(ttl))
	if err != nil {
		return 0, etcdError("grant lease for", key, err)
	}
	return resp.ID, nil
}
