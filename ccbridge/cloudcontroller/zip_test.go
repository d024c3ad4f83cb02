package cloudcontroller_test

import (
	"archive/zip"
	"bytes"
)

func zipOf(name, body string) []byte {
	buf := &bytes.Buffer{}
	zw := zip.NewWriter(buf)
	w, _ := zw.Create(name)
	_, _ = w.Write([]byte(body))
	_ = zw.Close()
	return buf.Bytes()
}
