package local_test

import (
	"encoding/json"
	"os"
	"path/filepath"

	ccconfig "diego/ccbridge/cloudcontroller/config"
	"diego/deploy/local"
	dopplerconfig "diego/metron/doppler/config"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("the Cloud Controller's doppler auth", func() {
	configs := func(p *local.Plan) (dopplerconfig.Config, ccconfig.Config) {
		var d dopplerconfig.Config
		var cc ccconfig.Config
		for _, daemon := range p.Daemons {
			switch cfg := daemon.Config.(type) {
			case dopplerconfig.Config:
				d = cfg
			case ccconfig.Config:
				cc = cfg
			}
		}
		return d, cc
	}

	It("runs the doppler in auth mode cc against the CC, with an operator token that env.sh exports", func() {
		p, err := local.NewPlan(local.Options{StateDir: GinkgoT().TempDir(), BinDir: "/bin", RootFS: "/rootfs", StackRootFS: "/stack", Cells: 1})
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Validate()).To(Succeed())
		d, cc := configs(p)
		Expect(d.Validate()).To(Succeed())
		Expect(d.AuthMode).To(Equal("cc"))
		Expect(d.CCLogAccessURL).To(Equal("http://127.0.0.1:9022/internal/log_access"))
		Expect(d.OperatorToken).To(HaveLen(64))
		Expect(d.OperatorToken).To(Equal(p.DopplerOperatorToken()))
		Expect(d.OperatorToken).NotTo(Equal(cc.TokenSigningSecret))
		Expect(p.Env()).To(ContainSubstring("export DIEGO_DOPPLER_TOKEN=" + d.OperatorToken + "\n"))
		Expect(p.Env()).To(ContainSubstring("export DIEGO_CC_PASSWORD=" + cc.AdminPassword + "\n"))
		Expect(p.Env()).To(ContainSubstring("export DIEGO_CC=http://127.0.0.1:9022\n"))
		Expect(p.Summary()).To(ContainSubstring("bin/diego push deploy/examples/app --name hello"))
	})

	It("keeps a credentials file's password and secret and adds a token when the file has none", func() {
		dir := GinkgoT().TempDir()
		secret := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		body, _ := json.Marshal(map[string]string{"admin_password": "kept-password", "token_signing_secret": secret})
		Expect(os.WriteFile(filepath.Join(dir, "cc-credentials.json"), body, 0o600)).To(Succeed())
		p, err := local.NewPlan(local.Options{StateDir: dir, BinDir: "/bin", RootFS: "/rootfs", StackRootFS: "/stack", Cells: 1})
		Expect(err).NotTo(HaveOccurred())
		d, cc := configs(p)
		Expect(cc.AdminPassword).To(Equal("kept-password"))
		Expect(cc.TokenSigningSecret).To(Equal(secret))
		Expect(d.OperatorToken).To(HaveLen(64))

		body, _ = json.Marshal(map[string]string{"admin_password": "kept-password", "token_signing_secret": secret,
			"doppler_operator_token": "kept-token"})
		Expect(os.WriteFile(filepath.Join(dir, "cc-credentials.json"), body, 0o600)).To(Succeed())
		p, err = local.NewPlan(local.Options{StateDir: dir, BinDir: "/bin", RootFS: "/rootfs", StackRootFS: "/stack", Cells: 1})
		Expect(err).NotTo(HaveOccurred())
		d, _ = configs(p)
		Expect(d.OperatorToken).To(Equal("kept-token"))
	})
})
