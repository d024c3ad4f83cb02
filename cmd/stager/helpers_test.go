package main_test

import (
	"encoding/json"

	. "github.com/onsi/gomega"

	"diego/models"
)

func mustAction(s string) *models.Action {
	var a models.Action
	ExpectWithOffset(1, json.Unmarshal([]byte(s), &a)).To(Succeed())
	return &a
}
