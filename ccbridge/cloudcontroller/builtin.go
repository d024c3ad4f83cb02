package cloudcontroller

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
)

// builtinNames are the offline buildpacks in position order (spec §1.5).
var builtinNames = []string{"shell_buildpack", "binary_buildpack"}

var builtinScripts = map[string]map[string]string{
	"shell_buildpack": {
		"bin/detect":  "#!/bin/bash\nif [ -f \"$1/run.sh\" ]; then echo shell; exit 0; fi\nexit 1\n",
		"bin/compile": "#!/bin/bash\nset -e\nchmod 0755 \"$1/run.sh\"\nmkdir -p \"$2\"\ntouch \"$2/shell_buildpack\"\n",
		"bin/release": "#!/bin/bash\nprintf -- '---\\ndefault_process_types:\\n  web: ./run.sh\\n'\n",
	},
	"binary_buildpack": {
		"bin/detect":  "#!/bin/bash\nexit 1\n",
		"bin/compile": "#!/bin/bash\nexit 0\n",
		"bin/release": "#!/bin/bash\nprintf -- '---\\ndefault_process_types: {}\\n'\n",
	},
}

// builtinZip is a buildpack's zip, bin/* with mode 0755, deterministic.
func builtinZip(name string) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range []string{"bin/compile", "bin/detect", "bin/release"} {
		hdr := &zip.FileHeader{Name: f, Method: zip.Deflate}
		hdr.SetMode(0o755)
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write([]byte(builtinScripts[name][f])); err != nil {
			return nil, err
		}
	}
	err := zw.Close()
	return buf.Bytes(), err
}

// WriteBuildpacks writes each built-in zip to <dir>/buildpacks/<name>.zip
// atomically when its bytes differ (spec §1.4).
func WriteBuildpacks(dir string) error {
	if dir == "" {
		return nil
	}
	bpDir := filepath.Join(dir, "buildpacks")
	if err := os.MkdirAll(bpDir, 0o755); err != nil {
		return err
	}
	for _, n := range builtinNames {
		b, err := builtinZip(n)
		if err != nil {
			return err
		}
		dst := filepath.Join(bpDir, n+".zip")
		if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, b) {
			continue
		}
		f, err := os.CreateTemp(bpDir, ".tmp-*")
		if err != nil {
			return err
		}
		_, err = f.Write(b)
		if err == nil {
			err = f.Chmod(0o644)
		}
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(f.Name(), dst)
		}
		if err != nil {
			os.Remove(f.Name())
			return err
		}
	}
	return nil
}
