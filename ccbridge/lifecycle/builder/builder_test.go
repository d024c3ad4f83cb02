package builder_test

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"diego/ccbridge/lifecycle"
	"diego/ccbridge/lifecycle/builder"
)

// install copies deploy/buildpacks/<name> to where key's buildpack goes.
func install(buildpacksDir, key, name string) {
	GinkgoHelper()
	dst := lifecycle.BuildpackPath(buildpacksDir, key)
	Expect(os.MkdirAll(filepath.Dir(dst), 0o755)).To(Succeed())
	Expect(exec.Command("cp", "-a", filepath.Join("..", "..", "..", "deploy", "buildpacks", name), dst).Run()).To(Succeed())
}

// entries lists a tgz's names, and the contents of its regular files.
func entries(path string) map[string]string {
	GinkgoHelper()
	f, err := os.Open(path)
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	gz, err := gzip.NewReader(f)
	Expect(err).NotTo(HaveOccurred())
	tr := tar.NewReader(gz)
	out := map[string]string{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		Expect(err).NotTo(HaveOccurred())
		body, err := io.ReadAll(tr)
		Expect(err).NotTo(HaveOccurred())
		out[hdr.Name] = string(body)
	}
}

var _ = Describe("the builder", func() {
	var (
		tmp string
		cfg builder.Config
		out *gbytes.Buffer
	)

	BeforeEach(func() {
		tmp = GinkgoT().TempDir()
		cfg = builder.Config{
			BuildDir:                  filepath.Join(tmp, "app"),
			BuildArtifactsCacheDir:    filepath.Join(tmp, "cache"),
			BuildpacksDir:             filepath.Join(tmp, "buildpacks"),
			BuildpacksDownloadDir:     filepath.Join(tmp, "downloads"),
			OutputBuildArtifactsCache: filepath.Join(tmp, "out", "output-cache"),
			OutputDroplet:             filepath.Join(tmp, "out", "droplet"),
			OutputMetadata:            filepath.Join(tmp, "out", "result.json"),
		}
		Expect(os.MkdirAll(filepath.Join(cfg.BuildDir, "bin"), 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(cfg.BuildDir, "app-binary"), []byte("#!/bin/sh\necho hi\n"), 0o755)).To(Succeed())
		out = gbytes.NewBuffer()
	})

	run := func() error {
		return builder.Builder{Config: cfg, Stdout: io.MultiWriter(out, GinkgoWriter), Stderr: io.MultiWriter(out, GinkgoWriter)}.Run()
	}
	exitCode := func(err error) int {
		GinkgoHelper()
		var exit *builder.ExitError
		Expect(errors.As(err, &exit)).To(BeTrue(), "an *ExitError: %v", err)
		return exit.Code
	}

	It("stages with the binary buildpack: the droplet of §8.2, the cache and result.json", func() {
		install(cfg.BuildpacksDir, "binary_buildpack", "binary")
		cfg.BuildpackOrder = []string{"binary_buildpack"}
		Expect(run()).To(Succeed())

		result, err := os.ReadFile(cfg.OutputMetadata)
		Expect(err).NotTo(HaveOccurred())
		Expect(result).To(MatchJSON(`{"lifecycle_metadata":{"buildpack_key":"binary_buildpack","detected_buildpack":"Binary"},
			"process_types":{"web":"./app-binary"},"execution_metadata":"","lifecycle_type":"buildpack"}`))

		droplet := entries(cfg.OutputDroplet)
		Expect(droplet).To(HaveKeyWithValue("./staging_info.yml", "detected_buildpack: Binary\nstart_command: ./app-binary\n"))
		Expect(droplet).To(HaveKeyWithValue("./app/app-binary", "#!/bin/sh\necho hi\n"))
		Expect(droplet).To(HaveKey("./app/bin/"))
		Expect(droplet).To(HaveKey("./tmp/"))
		Expect(droplet).To(HaveKey("./logs/"))
		Expect(entries(cfg.OutputBuildArtifactsCache)).To(HaveKey("./binary-buildpack-marker"))
		Expect(out).To(gbytes.Say("Binary app in"))
	})

	It("keeps the app's file modes in the droplet", func() {
		install(cfg.BuildpacksDir, "binary_buildpack", "binary")
		cfg.BuildpackOrder = []string{"binary_buildpack"}
		Expect(run()).To(Succeed())
		f, _ := os.Open(cfg.OutputDroplet)
		defer f.Close()
		gz, _ := gzip.NewReader(f)
		tr := tar.NewReader(gz)
		for {
			hdr, err := tr.Next()
			Expect(err).NotTo(HaveOccurred(), "the droplet has ./app/app-binary")
			if hdr.Name == "./app/app-binary" {
				Expect(hdr.Mode & 0o777).To(Equal(int64(0o755)))
				return
			}
		}
	})

	It("takes the first buildpack whose detect passes", func() {
		install(cfg.BuildpacksDir, "nope", "fail-detect")
		install(cfg.BuildpacksDir, "shell", "shell")
		install(cfg.BuildpacksDir, "bin", "binary")
		Expect(os.WriteFile(filepath.Join(cfg.BuildDir, "run.sh"), []byte("echo run\n"), 0o644)).To(Succeed())
		cfg.BuildpackOrder = []string{"nope", "shell", "bin"}
		Expect(run()).To(Succeed())
		result, _ := os.ReadFile(cfg.OutputMetadata)
		Expect(result).To(MatchJSON(`{"lifecycle_metadata":{"buildpack_key":"shell","detected_buildpack":"Shell"},
			"process_types":{"web":"sh run.sh"},"execution_metadata":"","lifecycle_type":"buildpack"}`))
	})

	It("exits 222 when no buildpack detects the app", func() {
		install(cfg.BuildpacksDir, "nope", "fail-detect")
		cfg.BuildpackOrder = []string{"nope"}
		err := run()
		Expect(exitCode(err)).To(Equal(222))
		Expect(err).To(MatchError(builder.ErrNoneDetected))
		Expect(cfg.OutputMetadata).NotTo(BeAnExistingFile())
	})

	It("exits 223 when compile fails", func() {
		install(cfg.BuildpacksDir, "bad", "fail-compile")
		cfg.BuildpackOrder = []string{"bad"}
		Expect(exitCode(run())).To(Equal(223))
		Expect(out).To(gbytes.Say("compilation failed on purpose"))
	})

	It("exits 224 when release prints something that is not YAML", func() {
		install(cfg.BuildpacksDir, "bin", "binary")
		Expect(os.WriteFile(filepath.Join(lifecycle.BuildpackPath(cfg.BuildpacksDir, "bin"), "bin", "release"),
			[]byte("#!/bin/sh\necho '{{{ not: yaml'\n"), 0o755)).To(Succeed())
		cfg.BuildpackOrder = []string{"bin"}
		Expect(exitCode(run())).To(Equal(224))
	})

	It("lets a Procfile replace the release's process types, and warns when there is no web command", func() {
		install(cfg.BuildpacksDir, "bin", "binary")
		Expect(os.WriteFile(filepath.Join(cfg.BuildDir, "Procfile"), []byte("worker: ./work\n"), 0o644)).To(Succeed())
		cfg.BuildpackOrder = []string{"bin"}
		Expect(run()).To(Succeed())
		result, _ := os.ReadFile(cfg.OutputMetadata)
		Expect(result).To(MatchJSON(`{"lifecycle_metadata":{"buildpack_key":"bin","detected_buildpack":"Binary"},
			"process_types":{"worker":"./work"},"execution_metadata":"","lifecycle_type":"buildpack"}`))
		Expect(out).To(gbytes.Say("No start command detected; command must be provided at runtime"))
	})

	It("with skipDetect, uses the first buildpack without running its detect", func() {
		install(cfg.BuildpacksDir, "bad", "fail-compile")
		Expect(os.WriteFile(filepath.Join(lifecycle.BuildpackPath(cfg.BuildpacksDir, "bad"), "bin", "compile"),
			[]byte("#!/bin/sh\nexit 0\n"), 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(lifecycle.BuildpackPath(cfg.BuildpacksDir, "bad"), "bin", "detect"),
			[]byte("#!/bin/sh\nexit 1\n"), 0o755)).To(Succeed())
		cfg.BuildpackOrder = []string{"bad"}
		cfg.SkipDetect = true
		Expect(run()).To(Succeed())
		result, _ := os.ReadFile(cfg.OutputMetadata)
		Expect(result).To(ContainSubstring(`"detected_buildpack":""`))
	})

	It("uses the one subdirectory holding bin/ when the buildpack has none at its top", func() {
		dst := lifecycle.BuildpackPath(cfg.BuildpacksDir, "nested")
		Expect(os.MkdirAll(dst, 0o755)).To(Succeed())
		Expect(exec.Command("cp", "-a", filepath.Join("..", "..", "..", "deploy", "buildpacks", "binary"), filepath.Join(dst, "binary-1.0")).Run()).To(Succeed())
		cfg.BuildpackOrder = []string{"nested"}
		Expect(run()).To(Succeed())
	})

	It("refuses a command line without buildpacks, and takes §8.1's defaults", func() {
		_, err := builder.ParseFlags([]string{}, GinkgoWriter)
		Expect(err).To(HaveOccurred())
		c, err := builder.ParseFlags([]string{"-buildpackOrder=a,b", "-skipDetect=true"}, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Expect(c).To(Equal(builder.Config{
			BuildDir: "/tmp/app", BuildArtifactsCacheDir: "/tmp/cache", BuildpackOrder: []string{"a", "b"},
			BuildpacksDir: "/tmp/buildpacks", BuildpacksDownloadDir: "/tmp/buildpackdownloads",
			OutputBuildArtifactsCache: "/tmp/output-cache", OutputDroplet: "/tmp/droplet",
			OutputMetadata: "/tmp/result.json", SkipDetect: true,
		}))
	})
})
