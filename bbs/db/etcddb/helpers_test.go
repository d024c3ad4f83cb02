package etcddb_test

import (
	"context"
	"errors"
	"strconv"

	"diego/models"
)

func errorsAs(err error, target **models.Error) bool { return errors.As(err, target) }

func taskDefinition() *models.TaskDefinition {
	return &models.TaskDefinition{
		RootFs:   "preloaded:cflinuxfs4",
		Action:   &models.Action{RunAction: &models.RunAction{Path: "/bin/true", User: "vcap"}},
		MemoryMb: 256,
		DiskMb:   1024,
		LogGuid:  "log-guid",
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}
