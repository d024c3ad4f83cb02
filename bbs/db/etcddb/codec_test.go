package etcddb_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/testing/protocmp"

	"diego/bbs/db"
	"diego/bbs/db/etcddb"
	"diego/deploy/clock/fakeclock"
	"diego/models"
)

var _ = Describe("Record encoding", func() {
	It("round-trips through the [2, 0] envelope", func() {
		in := &models.Task{TaskGuid: "g", Domain: "d", State: models.Task_Running, CellId: "c"}
		value, err := etcddb.Encode(in)
		Expect(err).NotTo(HaveOccurred())
		Expect(value[:2]).To(Equal([]byte{2, 0}))
		var out models.Task
		Expect(etcddb.Decode("k", value, &out)).To(Succeed())
		Expect(&out).To(BeComparableTo(in, protocmp.Transform()))
	})

	DescribeTable("refuses a foreign envelope",
		func(value []byte) {
			var out models.Task
			err := etcddb.Decode("the-key", value, &out)
			expectModelError(err, models.Error_FailedToOpenEnvelope, "could not open envelope")
			Expect(err.Error()).To(ContainSubstring("the-key"))
		},
		Entry("empty", []byte{}),
		Entry("one byte", []byte{2}),
		Entry("JSON (runtime-schema)", []byte(`{"task_guid":"g"}`)),
		Entry("encrypted (ASCII 02)", []byte("02abc")),
		Entry("another version", []byte{2, 1, 0x12, 0x01, 'g'}),
	)

	It("reports bad protobuf as Deserialize", func() {
		var out models.Task
		err := etcddb.Decode("the-key", []byte{2, 0, 0xff, 0xff, 0xff}, &out)
		expectModelError(err, models.Error_Deserialize, "could not deserialize record")
		Expect(err.Error()).To(ContainSubstring("the-key"))
	})

	Describe("undecodable stored tasks", func() {
		var (
			store  *etcddb.ETCDDB
			keys   etcddb.Keys
			logBuf *bytes.Buffer
			logger *slog.Logger
		)

		BeforeEach(func() {
			store = newStore(etcdClient, fakeclock.NewFakeClock(time.Unix(0, 0)), "")
			keys = store.Keys()
			logBuf = &bytes.Buffer{}
			logger = slog.New(slog.NewJSONHandler(logBuf, nil))

			_, err := store.DesireTask(ctx(), logger, taskDefinition(), "good", "dom")
			Expect(err).NotTo(HaveOccurred())
			_, _, _, err = store.StartTask(ctx(), logger, "good", "cell")
			Expect(err).NotTo(HaveOccurred())

			rawPut(keys.Task("bad-envelope"), `{"task_guid":"bad-envelope"}`)
			rawPut(keys.Task("bad-proto"), string([]byte{2, 0, 0xff, 0xff, 0xff}))
			// Index entries pointing at them, as if the record went bad after
			// it was indexed.
			for _, g := range []string{"bad-envelope", "bad-proto"} {
				rawPut(keys.TaskByCell("cell", g), "")
				rawPut(keys.TaskByDomain("dom", g), "")
			}
		})

		It("fail a get with the decoding error", func() {
			_, err := store.TaskByGuid(ctx(), logger, "bad-envelope")
			expectModelError(err, models.Error_FailedToOpenEnvelope)
			_, err = store.TaskByGuid(ctx(), logger, "bad-proto")
			expectModelError(err, models.Error_Deserialize)
		})

		It("fail a transition without writing", func() {
			_, _, _, err := store.CancelTask(ctx(), logger, "bad-proto")
			expectModelError(err, models.Error_Deserialize)
			value, _ := rawValue(keys.Task("bad-proto"))
			Expect(value).To(Equal([]byte{2, 0, 0xff, 0xff, 0xff}))
		})

		DescribeTable("are skipped and logged by every list, and not deleted",
			func(filter db.TaskFilter) {
				tasks, err := store.Tasks(ctx(), logger, filter)
				Expect(err).NotTo(HaveOccurred())
				Expect(tasks).To(HaveLen(1))
				Expect(tasks[0].GetTaskGuid()).To(Equal("good"))

				var skipped []string
				for line := range bytes.Lines(logBuf.Bytes()) {
					var rec map[string]any
					Expect(json.Unmarshal(line, &rec)).To(Succeed())
					if rec["msg"] == "skipping-undecodable-record" {
						skipped = append(skipped, rec["key"].(string))
					}
				}
				Expect(skipped).To(ConsistOf(keys.Task("bad-envelope"), keys.Task("bad-proto")))

				_, ok := rawValue(keys.Task("bad-proto"))
				Expect(ok).To(BeTrue())
			},
			Entry("all", db.TaskFilter{}),
			Entry("by cell", db.TaskFilter{CellID: "cell"}),
			Entry("by domain", db.TaskFilter{Domain: "dom"}),
		)
	})
})
