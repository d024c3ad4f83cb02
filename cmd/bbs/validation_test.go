package main_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"

	bbsclient "diego/bbs/client"
	"diego/models"
)

// Validation as Diego's BBS applies it (spec core §1.10), through the real
// binary: cached dependencies need no legacy_download_user; exclusive image
// layers do.
var _ = Describe("Validation through the bbs binary", func() {
	var client *bbsclient.Client

	cachedDependency := func() *models.CachedDependency {
		return &models.CachedDependency{Name: "buildpack", From: "http://fs/bp.zip", To: "/tmp/bp", CacheKey: "bp"}
	}

	BeforeEach(func() {
		Expect(etcd.Reset()).To(Succeed())
		fakeAuctioneer()
		client = newClient(startBBS(false))
	})

	It("desires an LRP with cached_dependencies and no legacy_download_user", func() {
		lrp := desiredLRP("pg-cached", 1)
		lrp.CachedDependencies = []*models.CachedDependency{cachedDependency()}
		Expect(client.DesireLRP(ctx, lrp)).To(Succeed())

		got, err := client.DesiredLRPByProcessGuid(ctx, "pg-cached")
		Expect(err).NotTo(HaveOccurred())
		Expect(got.GetCachedDependencies()).To(HaveLen(1))
		Expect(proto.Equal(got.GetCachedDependencies()[0], cachedDependency())).To(BeTrue())
		Expect(got.GetLegacyDownloadUser()).To(BeEmpty())
	})

	It("desires a task with cached_dependencies and no legacy_download_user", func() {
		def := taskDef()
		def.CachedDependencies = []*models.CachedDependency{cachedDependency()}
		Expect(client.DesireTask(ctx, "task-cached", "d", def)).To(Succeed())

		got, err := client.TaskByGuid(ctx, "task-cached")
		Expect(err).NotTo(HaveOccurred())
		Expect(got.GetTaskDefinition().GetCachedDependencies()).To(HaveLen(1))
	})

	It("still refuses an exclusive image layer without legacy_download_user", func() {
		lrp := desiredLRP("pg-layer", 1)
		lrp.ImageLayers = []*models.ImageLayer{{
			Url: "http://fs/layer.tgz", DestinationPath: "/layer", LayerType: models.ImageLayer_EXCLUSIVE,
			MediaType: models.ImageLayer_TGZ, DigestAlgorithm: models.ImageLayer_SHA256, DigestValue: "abc",
		}}
		err := client.DesireLRP(ctx, lrp)
		Expect(errType(err)).To(Equal(models.Error_InvalidRequest))
		Expect(err).To(MatchError(ContainSubstring("Invalid field: legacy_download_user")))

		_, err = client.DesiredLRPByProcessGuid(ctx, "pg-layer")
		Expect(errType(err)).To(Equal(models.Error_ResourceNotFound))

		lrp.LegacyDownloadUser = "vcap"
		Expect(client.DesireLRP(ctx, lrp)).To(Succeed())
	})

	It("reports a bad cached dependency by its field names", func() {
		lrp := desiredLRP("pg-bad-cached", 1)
		lrp.CachedDependencies = []*models.CachedDependency{{To: "/tmp/bp", ChecksumValue: "abc"}}
		err := client.DesireLRP(ctx, lrp)
		Expect(errType(err)).To(Equal(models.Error_InvalidRequest))
		Expect(models.ConvertError(err).GetMessage()).To(Equal(
			"Invalid field: cached_dependency, Invalid field: from, Invalid field: checksum algorithm"))
	})
})
