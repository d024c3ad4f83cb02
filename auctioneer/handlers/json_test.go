package handlers_test

import (
	"encoding/json"
	"io"
)

func jsonDecode(r io.Reader, out any) error { return json.NewDecoder(r).Decode(out) }
