package multivm_test

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/multivm"
)

var _ = Describe("the stored variables", func() {
	It("gain those a newer manifest adds, signed by the stored CA, keeping the others", func() {
		opts := multivm.Options{StateDir: GinkgoT().TempDir(), BinDir: "/opt/bin", ReleaseDir: "../bosh",
			Manifest: "../bosh/manifests/diego.yml", RootFS: "/srv/rootfs", Prefix: "dpv", GardenTag: "v"}
		first, err := multivm.NewPlan(opts)
		Expect(err).NotTo(HaveOccurred())

		// A vars.json written before the manifest had the rep's certificates.
		path := filepath.Join(opts.StateDir, "vars.json")
		older := map[string]any{}
		for k, v := range first.Vars {
			if k != "rep_server" && k != "rep_client" {
				older[k] = v
			}
		}
		data, err := json.Marshal(older)
		Expect(err).NotTo(HaveOccurred())
		Expect(os.WriteFile(path, data, 0o600)).To(Succeed())

		again, err := multivm.NewPlan(opts)
		Expect(err).NotTo(HaveOccurred())
		for k, v := range older {
			Expect(again.Vars[k]).To(Equal(v), k)
		}
		Expect(again.Vars["rep_server"]).NotTo(Equal(first.Vars["rep_server"]))

		pool := x509.NewCertPool()
		Expect(pool.AppendCertsFromPEM([]byte(older["diego_ca"].(map[string]any)["certificate"].(string)))).To(BeTrue())
		block, _ := pem.Decode([]byte(again.Vars["rep_server"].(map[string]any)["certificate"].(string)))
		Expect(block).NotTo(BeNil())
		cert, err := x509.ParseCertificate(block.Bytes)
		Expect(err).NotTo(HaveOccurred())
		_, err = cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "10.244.0.41"})
		Expect(err).NotTo(HaveOccurred())

		stored, err := os.ReadFile(path)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(stored)).To(ContainSubstring(`"rep_client"`))
	})
})
