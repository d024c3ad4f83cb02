package handlers_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"syscall"
	"testing"

	"diego/bbs/client"
	"diego/models"
)

// BenchmarkTaskByGuidOverHTTP is one B9 read (spec core §3.2 TaskByGuid)
// through the real client and the real net/http server over loopback TCP,
// with the store faked out: the API's own cost per read, both ends. It
// reports the process's CPU time per read (cpu-us/op) beside the wall
// time, since the CPU is what 100 readers on two cores compete for.
func BenchmarkTaskByGuidOverHTTP(b *testing.B) {
	f := newFixture()
	task := &models.Task{TaskGuid: "read-1", Domain: "bench", State: models.Task_Pending,
		TaskDefinition: &models.TaskDefinition{RootFs: "preloaded:cflinuxfs4",
			Action: models.WrapAction(&models.RunAction{Path: "/bin/true", User: "vcap"})}}
	f.tasks.TaskByGuidReturns(task, nil)
	srv := httptest.NewServer(f.server)
	defer srv.Close()
	b.SetParallelism(50) // 50 × GOMAXPROCS readers, each its own client as in B9
	b.ReportAllocs()
	start := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := client.New(client.Config{URL: srv.URL})
		if err != nil {
			panic(err)
		}
		for pb.Next() {
			if _, err := c.TaskByGuid(context.Background(), "read-1"); err != nil {
				panic(err)
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-start)/1e3/float64(b.N), "cpu-us/op")
}

// cpuTime is the process's user+system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(fmt.Sprintf("getrusage: %v", err))
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
