package etcddb_test

import (
	"encoding/json"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/testing/protocmp"

	"diego/bbs/db/etcddb"
	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"
	"diego/models"
)

var _ = Describe("Domains", func() {
	var (
		store *etcddb.ETCDDB
		keys  etcddb.Keys
	)
	logger := logging.Discard()

	BeforeEach(func() {
		store = newStore(etcdClient, fakeclock.NewFakeClock(time.Unix(1_700_000_000, 0)), "")
		keys = store.Keys()
	})

	fresh := func() []string {
		GinkgoHelper()
		domains, err := store.FreshDomains(ctx(), logger)
		Expect(err).NotTo(HaveOccurred())
		return domains
	}

	It("lists upserted domains, with an empty value", func() {
		Expect(fresh()).To(BeEmpty())
		Expect(store.UpsertDomain(ctx(), logger, "cf-apps", 0)).To(Succeed())
		Expect(store.UpsertDomain(ctx(), logger, "cf-tasks", time.Minute)).To(Succeed())
		Expect(fresh()).To(ConsistOf("cf-apps", "cf-tasks"))
		value, ok := rawValue(keys.Domain("cf-apps"))
		Expect(ok).To(BeTrue())
		Expect(value).To(BeEmpty())
	})

	It("keeps a ttl 0 domain without a lease", func() {
		Expect(store.UpsertDomain(ctx(), logger, "forever", 0)).To(Succeed())
		lease, _ := rawLease(keys.Domain("forever"))
		Expect(lease).To(BeZero())
	})

	It("puts the domain under a new lease of ttl on every upsert and drops the old one", func() {
		Expect(store.UpsertDomain(ctx(), logger, "d", 30*time.Second)).To(Succeed())
		first, ttl := rawLease(keys.Domain("d"))
		Expect(first).NotTo(BeZero())
		Expect(ttl).To(Equal(30 * time.Second))

		Expect(store.UpsertDomain(ctx(), logger, "d", 2*time.Minute)).To(Succeed())
		second, ttl := rawLease(keys.Domain("d"))
		Expect(second).NotTo(Equal(first))
		Expect(ttl).To(Equal(2 * time.Minute))
		old, err := etcdClient.TimeToLive(ctx(), first)
		Expect(err).NotTo(HaveOccurred())
		Expect(old.TTL).To(BeEquivalentTo(-1), "the old lease is revoked")

		Expect(store.UpsertDomain(ctx(), logger, "d", 0)).To(Succeed())
		none, _ := rawLease(keys.Domain("d"))
		Expect(none).To(BeZero(), "ttl 0 makes it never expire")
		Expect(fresh()).To(ConsistOf("d"))
	})

	It("forgets a domain when its lease ends", func() {
		Expect(store.UpsertDomain(ctx(), logger, "d", time.Minute)).To(Succeed())
		lease, _ := rawLease(keys.Domain("d"))
		_, err := etcdClient.Revoke(ctx(), lease)
		Expect(err).NotTo(HaveOccurred())
		Expect(fresh()).To(BeEmpty())
	})

	It("refuses an empty domain", func() {
		expectModelError(store.UpsertDomain(ctx(), logger, "", 0), models.Error_InvalidRequest, "Invalid field: domain")
	})
})

var _ = Describe("Cells", func() {
	var (
		store *etcddb.ETCDDB
		keys  etcddb.Keys
	)
	logger := logging.Discard()

	BeforeEach(func() {
		store = newStore(etcdClient, fakeclock.NewFakeClock(time.Unix(1_700_000_000, 0)), "")
		keys = store.Keys()
	})

	presence := func(id string) *models.CellPresence {
		return &models.CellPresence{
			CellId:          id,
			RepAddress:      "http://10.0.0.1:1800",
			Zone:            "z1",
			Capacity:        &models.CellCapacity{MemoryMb: 1024, DiskMb: 2048, Containers: 10},
			RootfsProviders: []*models.Provider{{Name: "preloaded", Properties: []string{"cflinuxfs4"}}},
			RepUrl:          "http://cell.example.com:1800",
		}
	}
	putPresence := func(p *models.CellPresence) {
		GinkgoHelper()
		value, err := json.Marshal(p)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(value)).To(ContainSubstring("rootfs_provider_list"))
		rawPut(keys.Cell(p.GetCellId()), string(value))
	}

	It("lists the presences and skips undecodable ones", func() {
		putPresence(presence("cell-1"))
		putPresence(presence("cell-2"))
		rawPut(keys.Cell("cell-junk"), "{not json")
		cells, err := store.Cells(ctx(), logger)
		Expect(err).NotTo(HaveOccurred())
		Expect(cells).To(HaveExactElements(
			BeComparableTo(presence("cell-1"), protocmp.Transform()),
			BeComparableTo(presence("cell-2"), protocmp.Transform()),
		))
	})

	It("finds one cell by id", func() {
		putPresence(presence("cell-1"))
		cell, err := store.CellByID(ctx(), logger, "cell-1")
		Expect(err).NotTo(HaveOccurred())
		Expect(cell).To(BeComparableTo(presence("cell-1"), protocmp.Transform()))
	})

	It("returns ResourceNotFound for a missing cell and Deserialize for a bad presence", func() {
		_, err := store.CellByID(ctx(), logger, "missing")
		expectModelError(err, models.Error_ResourceNotFound)
		rawPut(keys.Cell("cell-junk"), "{not json")
		_, err = store.CellByID(ctx(), logger, "cell-junk")
		expectModelError(err, models.Error_Deserialize)
	})

	It("sees a presence disappear with its lease", func() {
		lease, err := etcdClient.Grant(ctx(), 15)
		Expect(err).NotTo(HaveOccurred())
		value, err := json.Marshal(presence("cell-1"))
		Expect(err).NotTo(HaveOccurred())
		_, err = etcdClient.Put(ctx(), keys.Cell("cell-1"), string(value), clientv3.WithLease(lease.ID))
		Expect(err).NotTo(HaveOccurred())
		Expect(store.Cells(ctx(), logger)).To(HaveLen(1))
		_, err = etcdClient.Revoke(ctx(), lease.ID)
		Expect(err).NotTo(HaveOccurred())
		Expect(store.Cells(ctx(), logger)).To(BeEmpty())
	})
})
