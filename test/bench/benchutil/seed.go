package benchutil

import (
	"context"
	"fmt"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"diego/bbs/db/etcddb"
	"diego/models"
)

// LRPSeed is a store of RUNNING LRPs written straight into etcd, as the BBS
// stores them, for the read benchmarks (bulk-reads, scale): seeding through
// the API would take longer than the benchmark.
type LRPSeed struct {
	Desired   int      // desired LRPs, process guids pg-00000 on
	Instances int32    // RUNNING instances of each
	Domain    string   // their domain
	Ports     []uint32 // the desired LRPs' container ports; nil for none
	// Cell names the cell instance j of desired i runs on.
	Cell func(i int, j int32) string
}

// maxTxnOps is etcd's default cap on the operations of one transaction.
const maxTxnOps = 128

// SeedLRPs writes s's scheduling and run infos, domain index, actual LRPs
// and cell index keys with eight writers, as many desired LRPs per
// transaction as fit.
func SeedLRPs(ctx context.Context, raw *clientv3.Client, keys etcddb.Keys, s LRPSeed) {
	action := models.WrapAction(&models.RunAction{Path: "/bin/server", User: "vcap", Args: []string{"--port", "8080"}})
	routes := &models.ProtoRoutes{Routes: map[string][]byte{"cf-router": []byte(`[{"hostnames":["app.example.com"],"port":8080}]`)}}
	perDesired := 3 + 2*int(s.Instances)
	jobs := make(chan int, 256)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ops []clientv3.Op
			flush := func() {
				if len(ops) == 0 {
					return
				}
				if _, err := raw.Txn(ctx).Then(ops...).Commit(); err != nil {
					Fatal("seeding: %v", err)
				}
				ops = ops[:0]
			}
			for i := range jobs {
				pg := fmt.Sprintf("pg-%05d", i)
				d := &models.DesiredLRP{ProcessGuid: pg, Domain: s.Domain, RootFs: "preloaded:cflinuxfs4", Instances: s.Instances,
					MemoryMb: 256, DiskMb: 1024, Action: action, Routes: routes, LogGuid: pg, Ports: s.Ports,
					ModificationTag: &models.ModificationTag{Epoch: "e", Index: 1}}
				ops = append(ops,
					clientv3.OpPut(keys.SchedulingInfo(pg), Envelope(d.DesiredLRPSchedulingInfo())),
					clientv3.OpPut(keys.RunInfo(pg), Envelope(d.DesiredLRPRunInfo(1))),
					clientv3.OpPut(keys.DesiredByDomain(s.Domain, pg), ""),
				)
				for j := int32(0); j < s.Instances; j++ {
					cell := s.Cell(i, j)
					lrp := &models.ActualLRP{
						ActualLrpKey:         &models.ActualLRPKey{ProcessGuid: pg, Index: j, Domain: s.Domain},
						ActualLrpInstanceKey: &models.ActualLRPInstanceKey{InstanceGuid: fmt.Sprintf("ig-%s-%d", pg, j), CellId: cell},
						ActualLrpNetInfo:     &models.ActualLRPNetInfo{Address: "10.0.0.1", Ports: []*models.PortMapping{{ContainerPort: 8080, HostPort: 61001 + uint32(j)}}},
						State:                models.ActualLRPStateRunning, Since: 1, ModificationTag: &models.ModificationTag{Epoch: "e", Index: 2},
					}
					ops = append(ops,
						clientv3.OpPut(keys.ActualInstance(pg, j), Envelope(lrp)),
						clientv3.OpPut(keys.ActualByCell(cell, pg, j, false), ""),
					)
				}
				if len(ops)+perDesired > maxTxnOps {
					flush()
				}
			}
			flush()
		}()
	}
	for i := 0; i < s.Desired; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}

// Envelope encodes m as the BBS stores a record: format byte 2 (protobuf),
// version 0, then the message.
func Envelope(m proto.Message) string {
	b, err := proto.Marshal(m)
	if err != nil {
		Fatal("%v", err)
	}
	return string(append([]byte{2, 0}, b...))
}

// RawCellRead reads a cell's index keys and then its records, as the BBS
// must without its cache, and returns how many records it read: the
// anchor of a per-cell fetch.
func RawCellRead(ctx context.Context, raw *clientv3.Client, keys etcddb.Keys, cell string) int {
	resp, err := raw.Get(ctx, keys.ActualByCellPrefix(cell), clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		Fatal("%v", err)
	}
	var ops []clientv3.Op
	for _, kv := range resp.Kvs {
		ops = append(ops, clientv3.OpGet(string(kv.Key)))
	}
	n := 0
	for len(ops) > 0 {
		k := min(len(ops), maxTxnOps)
		tr, err := raw.Txn(ctx).Then(ops[:k]...).Commit()
		if err != nil {
			Fatal("%v", err)
		}
		for _, r := range tr.Responses {
			n += len(r.GetResponseRange().Kvs)
		}
		ops = ops[k:]
	}
	return n
}
