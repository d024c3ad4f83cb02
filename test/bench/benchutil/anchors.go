package benchutil

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// AnchorCAS measures raw etcd compare-and-swap transactions per second with
// `workers` concurrent clients, each doing read → CAS on its own keys, for d.
// It is the same-run anchor of B1 and B2.
func AnchorCAS(client *clientv3.Client, workers int, d time.Duration) float64 {
	ctx := context.Background()
	value := make([]byte, 300) // about an ActualLRP record
	for w := 0; w < workers; w++ {
		if _, err := client.Put(ctx, fmt.Sprintf("/anchor/cas/%d", w), string(value)); err != nil {
			Fatal("anchor setup: %v", err)
		}
	}
	var done atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(key string) {
			defer wg.Done()
			for time.Now().Before(deadline) {
				resp, err := client.Get(ctx, key)
				if err != nil || len(resp.Kvs) == 0 {
					continue
				}
				txn, err := client.Txn(ctx).
					If(clientv3.Compare(clientv3.ModRevision(key), "=", resp.Kvs[0].ModRevision)).
					Then(clientv3.OpPut(key, string(value))).Commit()
				if err == nil && txn.Succeeded {
					done.Add(1)
				}
			}
		}(fmt.Sprintf("/anchor/cas/%d", w))
	}
	wg.Wait()
	_, _ = client.Delete(ctx, "/anchor/", clientv3.WithPrefix())
	return float64(done.Load()) / d.Seconds()
}

// AnchorGets measures linearizable etcd Gets per second of single keys with
// `workers` concurrent clients, for d: the anchor of B9.
func AnchorGets(client *clientv3.Client, workers int, d time.Duration) float64 {
	ctx := context.Background()
	for w := 0; w < workers; w++ {
		if _, err := client.Put(ctx, fmt.Sprintf("/anchor/get/%d", w), string(make([]byte, 300))); err != nil {
			Fatal("anchor setup: %v", err)
		}
	}
	var done atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(key string) {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if _, err := client.Get(ctx, key); err == nil {
					done.Add(1)
				}
			}
		}(fmt.Sprintf("/anchor/get/%d", w))
	}
	wg.Wait()
	_, _ = client.Delete(ctx, "/anchor/", clientv3.WithPrefix())
	return float64(done.Load()) / d.Seconds()
}
