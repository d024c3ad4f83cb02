package etcddb_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"

	"diego/models"
)

func desiredLRP(processGuid, domain string, instances int32) *models.DesiredLRP {
	return &models.DesiredLRP{
		ProcessGuid: processGuid,
		Domain:      domain,
		RootFs:      "preloaded:cflinuxfs4",
		Instances:   instances,
		EnvironmentVariables: []*models.EnvironmentVariable{
			{Name: "PORT", Value: "8080"},
		},
		Action:         &models.Action{RunAction: &models.RunAction{Path: "/bin/server", User: "vcap"}},
		Monitor:        &models.Action{RunAction: &models.RunAction{Path: "/bin/check", User: "vcap"}},
		DiskMb:         1024,
		MemoryMb:       256,
		CpuWeight:      10,
		Ports:          []uint32{8080},
		Routes:         &models.ProtoRoutes{Routes: map[string][]byte{"cf-router": []byte(`[{"hostnames":["a.example.com"],"port":8080}]`)}},
		LogSource:      "APP",
		LogGuid:        "log-" + processGuid,
		MetricsGuid:    "metrics-" + processGuid,
		Annotation:     "annotated",
		StartTimeoutMs: 60_000,
		PlacementTags:  []string{"tag-a"},
		MaxPids:        1024,
		MetricTags:     map[string]*models.MetricTagValue{"source_id": {Static: "metrics-" + processGuid}}, // Diego: source_id matches metrics_guid
	}
}

func lrpKey(processGuid string, index int32, domain string) *models.ActualLRPKey {
	return &models.ActualLRPKey{ProcessGuid: processGuid, Index: index, Domain: domain}
}

func instanceKey(instanceGuid, cellID string) *models.ActualLRPInstanceKey {
	return &models.ActualLRPInstanceKey{InstanceGuid: instanceGuid, CellId: cellID}
}

func netInfo(address string, hostPort uint32) *models.ActualLRPNetInfo {
	return &models.ActualLRPNetInfo{
		Address:         address,
		InstanceAddress: "10.255.0.1",
		Ports:           []*models.PortMapping{{ContainerPort: 8080, HostPort: hostPort}},
	}
}

// rawRevision is a key's ModRevision (0 when absent), straight from etcd.
func rawRevision(key string) int64 {
	GinkgoHelper()
	resp, err := etcdClient.Get(ctx(), key)
	Expect(err).NotTo(HaveOccurred())
	if len(resp.Kvs) == 0 {
		return 0
	}
	return resp.Kvs[0].ModRevision
}

// rawLease is the lease a key is attached to (0: none) and the TTL the
// lease was granted with.
func rawLease(key string) (clientv3.LeaseID, time.Duration) {
	GinkgoHelper()
	resp, err := etcdClient.Get(ctx(), key)
	Expect(err).NotTo(HaveOccurred())
	Expect(resp.Kvs).To(HaveLen(1), "key %s", key)
	id := clientv3.LeaseID(resp.Kvs[0].Lease)
	if id == 0 {
		return 0, 0
	}
	ttl, err := etcdClient.TimeToLive(ctx(), id)
	Expect(err).NotTo(HaveOccurred())
	return id, time.Duration(ttl.GrantedTTL) * time.Second
}

func rawDelete(key string) {
	GinkgoHelper()
	_, err := etcdClient.Delete(ctx(), key)
	Expect(err).NotTo(HaveOccurred())
}
