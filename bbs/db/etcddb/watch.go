package etcddb

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"diego/models"
)

// RecordKind says which kind of record a change is about.
type RecordKind int

const (
	TaskRecord RecordKind = iota
	SchedulingInfoRecord
	RunInfoRecord
	ActualInstanceRecord
	ActualEvacuatingRecord
)

// RecordChange is one put or delete of a record, decoded. Before is nil for
// a create, After is nil for a delete.
type RecordChange struct {
	Kind          RecordKind
	Key           string
	Before, After proto.Message
}

// ChangeBatch is every record change of one store revision (one
// transaction), in the order etcd applied them.
type ChangeBatch struct {
	Revision int64
	Changes  []RecordChange
}

// watchRetryInterval spaces attempts to re-establish a broken watch.
const watchRetryInterval = 500 * time.Millisecond

// CurrentRevision is the store's revision now: a watch from it+1 sees every
// later change.
func (e *ETCDDB) CurrentRevision(ctx context.Context) (int64, error) {
	resp, err := e.client.Get(ctx, e.keys.Root()+"/v1/", clientv3.WithCountOnly(), clientv3.WithPrefix())
	if err != nil {
		return 0, etcdError("get revision", e.keys.Root(), err)
	}
	return resp.Header.Revision, nil
}

// WatchChanges streams the changes to tasks, desired LRP records and actual
// LRPs after fromRevision, one batch per revision, until ctx ends. When the
// watch breaks it is re-established from the last revision delivered, so no
// change is skipped or repeated; only a compaction past that revision loses
// changes, which is logged. Undecodable values are logged and left out.
// While wanted (if not nil) returns false, batches carry no changes: nobody
// is listening, so nothing is decoded.
func (e *ETCDDB) WatchChanges(ctx context.Context, logger *slog.Logger, fromRevision int64, wanted func() bool) <-chan ChangeBatch {
	out := make(chan ChangeBatch, 64)
	go func() {
		defer close(out)
		next := fromRevision + 1
		for ctx.Err() == nil {
			wctx := clientv3.WithRequireLeader(ctx)
			ch := e.client.Watch(wctx, e.keys.Root()+"/v1/", clientv3.WithPrefix(), clientv3.WithPrevKV(), clientv3.WithRev(next))
			for resp := range ch {
				if err := resp.Err(); err != nil {
					if errors.Is(err, rpctypes.ErrCompacted) {
						logger.Error("watch-compacted", "from", next, "compact_revision", resp.CompactRevision)
						next = resp.CompactRevision
					} else {
						logger.Error("watch-failed", "error", err)
					}
					break
				}
				decode := wanted == nil || wanted()
				for _, batch := range e.batches(logger, resp.Events, decode) {
					select {
					case out <- batch:
					case <-ctx.Done():
						return
					}
					next = batch.Revision + 1
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(watchRetryInterval):
				logger.Info("watch-restarting", "from", next)
			}
		}
	}()
	return out
}

// batches groups watch events by revision and decodes the ones that are
// records the event streams care about.
func (e *ETCDDB) batches(logger *slog.Logger, events []*clientv3.Event, decode bool) []ChangeBatch {
	var out []ChangeBatch
	for _, ev := range events {
		rev := ev.Kv.ModRevision
		if len(out) == 0 || out[len(out)-1].Revision != rev {
			out = append(out, ChangeBatch{Revision: rev})
		}
		if !decode {
			continue
		}
		key := string(ev.Kv.Key)
		kind, ok := e.kindOf(key)
		if !ok {
			continue
		}
		change := RecordChange{Kind: kind, Key: key}
		if ev.PrevKv != nil {
			change.Before = decodeKind(logger, kind, key, ev.PrevKv.Value)
		}
		if ev.Type == mvccpb.PUT {
			change.After = decodeKind(logger, kind, key, ev.Kv.Value)
			if change.After == nil {
				continue
			}
		}
		if change.Before == nil && change.After == nil {
			continue
		}
		out[len(out)-1].Changes = append(out[len(out)-1].Changes, change)
	}
	return out
}

func (e *ETCDDB) kindOf(key string) (RecordKind, bool) {
	switch {
	case strings.HasPrefix(key, e.keys.TaskPrefix()):
		return TaskRecord, true
	case strings.HasPrefix(key, e.keys.SchedulingInfoPrefix()):
		return SchedulingInfoRecord, true
	case strings.HasPrefix(key, e.keys.RunInfoPrefix()):
		return RunInfoRecord, true
	case strings.HasPrefix(key, e.keys.ActualPrefix()) && strings.HasSuffix(key, "/instance"):
		return ActualInstanceRecord, true
	case strings.HasPrefix(key, e.keys.ActualPrefix()) && strings.HasSuffix(key, "/evacuating"):
		return ActualEvacuatingRecord, true
	}
	return 0, false
}

func decodeKind(logger *slog.Logger, kind RecordKind, key string, value []byte) proto.Message {
	var msg proto.Message
	switch kind {
	case TaskRecord:
		msg = &models.Task{}
	case SchedulingInfoRecord:
		msg = &models.DesiredLRPSchedulingInfo{}
	case RunInfoRecord:
		msg = &models.DesiredLRPRunInfo{}
	default:
		msg = &models.ActualLRP{}
	}
	if err := decode(key, value, msg); err != nil {
		logger.Error("watch-undecodable-record", "key", key, "error", err)
		return nil
	}
	return msg
}

// RunInfoAt reads a desired LRP's run info as it was at revision rev, to
// assemble a desired LRP event whose run info did not change.
func (e *ETCDDB) RunInfoAt(ctx context.Context, processGuid string, rev int64) (*models.DesiredLRPRunInfo, error) {
	key := e.keys.RunInfo(processGuid)
	resp, err := e.client.Get(ctx, key, clientv3.WithRev(rev))
	if err != nil {
		return nil, etcdError("get", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, keyError(key, models.ErrResourceNotFound)
	}
	r := &models.DesiredLRPRunInfo{}
	if err := decode(key, resp.Kvs[0].Value, r); err != nil {
		return nil, err
	}
	return r, nil
}
