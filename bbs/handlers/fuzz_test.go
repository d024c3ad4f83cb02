package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"diego/bbs"
	"diego/models"
)

// FuzzRequestDecoders sends arbitrary bodies to every unary route: the
// server must always answer 200 with a protobuf response, never panic.
//
//	go test ./bbs/handlers -run '^$' -fuzz FuzzRequestDecoders -fuzztime 60s
func FuzzRequestDecoders(f *testing.F) {
	seed, _ := proto.Marshal(&models.DesireTaskRequest{TaskGuid: "t", Domain: "d", TaskDefinition: &models.TaskDefinition{RootFs: "x:y"}})
	f.Add(uint8(0), seed)
	f.Add(uint8(3), []byte{0x0a, 0xff, 0x01})
	f.Add(uint8(7), []byte{})
	var unary []string
	for _, r := range bbs.Routes {
		if r.Method == http.MethodPost && !strings.HasPrefix(r.Path, "/v1/events") {
			unary = append(unary, r.Name)
		}
	}
	fx := newFixture()
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		name := unary[int(route)%len(unary)]
		status, out := fx.post(name, body)
		if status != http.StatusOK {
			t.Fatalf("%s answered %d", name, status)
		}
		var anyResp models.TaskLifecycleResponse // every response has Error at field 1
		if err := proto.Unmarshal(out, &anyResp); err != nil && name != bbs.PingRoute {
			t.Fatalf("%s answered undecodable bytes: %v", name, err)
		}
	})
}
