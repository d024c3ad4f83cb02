package sync_test

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"
	"time"

	bbsclient "diego/bbs/client"
	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"
	"diego/executor"
	executorclient "diego/executor/client"
	"diego/metron/emitter"
	"diego/models"
	"diego/rep/evacuator"
	repsync "diego/rep/sync"
	"diego/rep/sync/syncfakes"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The real clients must satisfy the consumer interfaces.
var (
	_ repsync.ExecutorClient = (*executorclient.Client)(nil)
	_ repsync.EventStream    = (*executorclient.EventSource)(nil)
	_ repsync.BBSClient      = (*bbsclient.Client)(nil)
	_ repsync.Metrics        = (*emitter.Emitter)(nil)
	_ repsync.AppLog         = (*emitter.Emitter)(nil)
)

func TestGenerator(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Rep Sync Suite")
}

const cellID = "cell-1"

// fixture is a generator over fakes.
type fixture struct {
	executor *syncfakes.FakeExecutorClient
	events   *syncfakes.FakeEventSubscriber
	bbs      *syncfakes.FakeBBSClient
	metrics  *syncfakes.FakeMetrics
	appLog   *syncfakes.FakeAppLog
	clock    *fakeclock.FakeClock
	flag     *evacuator.Flag
	cfg      repsync.Config
}

func newFixture() *fixture {
	return &fixture{
		executor: &syncfakes.FakeExecutorClient{},
		events:   &syncfakes.FakeEventSubscriber{},
		bbs:      &syncfakes.FakeBBSClient{},
		metrics:  &syncfakes.FakeMetrics{},
		appLog:   &syncfakes.FakeAppLog{},
		clock:    fakeclock.NewFakeClock(time.Unix(1000, 0)),
		flag:     evacuator.NewFlag(),
		cfg: repsync.Config{
			CellID:       cellID,
			Zone:         "z1",
			StackPathMap: map[string]string{"cflinuxfs3": "/var/lib/rootfs/cflinuxfs3"},
			Workers:      4,
		},
	}
}

func (f *fixture) generator() *repsync.Generator {
	g, err := repsync.New(f.cfg, repsync.Deps{
		Logger: logging.Discard(), Clock: f.clock, Executor: f.executor, Events: f.events,
		BBS: f.bbs, Flag: f.flag, Metrics: f.metrics, AppLog: f.appLog,
	})
	Expect(err).NotTo(HaveOccurred())
	return g
}

// lrpContainer is instance ig-1 of pg-1 index 2 in state.
func lrpContainer(state executor.State) executor.Container {
	return executor.Container{
		Guid:  "ig-1",
		State: state,
		Tags: executor.Tags{
			repsync.LifecycleTag: repsync.LRPLifecycle, repsync.DomainTag: "cf-apps",
			repsync.ProcessGuidTag: "pg-1", repsync.ProcessIndexTag: "2", repsync.InstanceGuidTag: "ig-1",
		},
		RunInfo: executor.RunInfo{
			Ports:         []executor.PortMapping{{ContainerPort: 8080, HostPort: 61001}, {ContainerPort: 2222, HostPort: 61002}},
			LogConfig:     executor.LogConfig{Guid: "log-guid", Index: 2, SourceName: "CELL"},
			MetricsConfig: executor.MetricsConfig{Guid: "metrics-guid", Index: 2, Tags: map[string]string{"source_id": "app"}},
		},
		ExternalIP: "10.0.0.5",
		InternalIP: "10.254.0.2",
		Routable:   true,
	}
}

func taskContainer(state executor.State) executor.Container {
	return executor.Container{
		Guid:  "tg-1",
		State: state,
		Tags:  executor.Tags{repsync.LifecycleTag: repsync.TaskLifecycle, repsync.DomainTag: "cf-tasks"},
	}
}

var (
	lrpKey         = &models.ActualLRPKey{ProcessGuid: "pg-1", Index: 2, Domain: "cf-apps"}
	lrpInstanceKey = &models.ActualLRPInstanceKey{InstanceGuid: "ig-1", CellId: cellID}
)

// tarOf is a tar stream holding one file with content.
func tarOf(content []byte) io.ReadCloser {
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	Expect(w.WriteHeader(&tar.Header{Name: "result", Mode: 0o644, Size: int64(len(content))})).To(Succeed())
	_, err := w.Write(content)
	Expect(err).NotTo(HaveOccurred())
	Expect(w.Close()).To(Succeed())
	return io.NopCloser(&buf)
}
