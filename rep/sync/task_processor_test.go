package sync_test

import (
	"bytes"
	"context"
	"errors"
	"io"

	"diego/executor"
	"diego/models"
	repsync "diego/rep/sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("the task processor", func() {
	var (
		f    *fixture
		g    *repsync.Generator
		ctx  context.Context
		task *models.Task
	)

	BeforeEach(func() {
		f = newFixture()
		ctx = context.Background()
		task = &models.Task{TaskGuid: "tg-1", Domain: "cf-tasks", State: models.Task_Running, CellId: cellID,
			TaskDefinition: &models.TaskDefinition{RootFs: "preloaded:cflinuxfs3", ResultFile: "/tmp/result",
				Action: models.WrapAction(&models.RunAction{Path: "/bin/true", User: "vcap"})}}
		f.bbs.TaskByGuidReturns(task, nil)
	})

	JustBeforeEach(func() {
		g = f.generator()
	})

	process := func(c executor.Container) {
		f.executor.GetContainerReturns(c, nil)
		g.ContainerOperation(c.Guid).Execute(ctx)
	}

	expectDeleted := func() {
		ExpectWithOffset(1, f.executor.DeleteContainerCallCount()).To(Equal(1))
		ExpectWithOffset(1, f.executor.DeleteContainerArgsForCall(0)).To(Equal("tg-1"))
	}

	type completion struct {
		guid, cell     string
		failed         bool
		reason, result string
	}
	completions := func() []completion {
		var out []completion
		for i := range f.bbs.CompleteTaskCallCount() {
			_, guid, cell, failed, reason, result := f.bbs.CompleteTaskArgsForCall(i)
			out = append(out, completion{guid, cell, failed, reason, result})
		}
		return out
	}

	DescribeTable("an active container",
		func(state executor.State) {
			By("starting the task and running it when the BBS says it changed")
			f.bbs.StartTaskReturns(true, nil)
			process(taskContainer(state))
			Expect(f.bbs.StartTaskCallCount()).To(Equal(1))
			_, guid, cell := f.bbs.StartTaskArgsForCall(0)
			Expect(guid).To(Equal("tg-1"))
			Expect(cell).To(Equal(cellID))
			Expect(f.bbs.TaskByGuidCallCount()).To(Equal(1))
			_, guid = f.bbs.TaskByGuidArgsForCall(0)
			Expect(guid).To(Equal("tg-1"))
			want, err := repsync.NewTaskRunRequest(task, f.cfg.StackPathMap)
			Expect(err).NotTo(HaveOccurred())
			Expect(f.executor.RunContainerCallCount()).To(Equal(1))
			Expect(f.executor.RunContainerArgsForCall(0)).To(Equal(want))
			Expect(f.bbs.CompleteTaskCallCount()).To(BeZero())
			Expect(f.executor.DeleteContainerCallCount()).To(BeZero())

			f.bbs.StartTaskReturns(false, nil)
			process(taskContainer(state))
			Expect(f.bbs.StartTaskCallCount()).To(Equal(2))
			Expect(f.executor.DeleteContainerCallCount()).To(BeZero())
			if state == executor.StateReserved {
				By("running a reserved container whose earlier start succeeded unseen (a BBS restart)")
				Expect(f.bbs.TaskByGuidCallCount()).To(Equal(2))
				Expect(f.executor.RunContainerCallCount()).To(Equal(2))
				return
			}
			By("doing nothing more when this rep started and ran it already")
			Expect(f.bbs.TaskByGuidCallCount()).To(Equal(1))
			Expect(f.executor.RunContainerCallCount()).To(Equal(1))
		},
		Entry("reserved", executor.StateReserved),
		Entry("initializing", executor.StateInitializing),
		Entry("created", executor.StateCreated),
		Entry("running", executor.StateRunning),
	)

	DescribeTable("a start the BBS refuses deletes the container",
		func(err error) {
			f.bbs.StartTaskReturns(false, err)
			process(taskContainer(executor.StateReserved))
			expectDeleted()
			Expect(f.executor.RunContainerCallCount()).To(BeZero())
			Expect(f.bbs.CompleteTaskCallCount()).To(BeZero())
		},
		Entry("invalid state transition", models.NewTaskTransitionError(models.Task_Completed, models.Task_Running)),
		Entry("resource not found", models.ErrResourceNotFound),
	)

	It("leaves the container on any other start error", func() {
		f.bbs.StartTaskReturns(false, errors.New("bbs down"))
		process(taskContainer(executor.StateReserved))
		Expect(f.executor.DeleteContainerCallCount()).To(BeZero())
		Expect(f.bbs.TaskByGuidCallCount()).To(BeZero())
	})

	It("does not run when the task cannot be fetched", func() {
		f.bbs.StartTaskReturns(true, nil)
		f.bbs.TaskByGuidReturns(nil, errors.New("bbs down"))
		process(taskContainer(executor.StateReserved))
		Expect(f.executor.RunContainerCallCount()).To(BeZero())
		Expect(f.bbs.CompleteTaskCallCount()).To(BeZero())
	})

	It("fails the task with 'failed to run container' when run fails", func() {
		f.bbs.StartTaskReturns(true, nil)
		f.executor.RunContainerReturns(errors.New("boom"))
		process(taskContainer(executor.StateReserved))
		Expect(completions()).To(Equal([]completion{{"tg-1", cellID, true, "failed to run container", ""}}))
		expectDeleted()
	})

	It("fails the task the same way when its rootfs cannot be mapped", func() {
		f.bbs.StartTaskReturns(true, nil)
		task.TaskDefinition.RootFs = "preloaded:unknown"
		process(taskContainer(executor.StateReserved))
		Expect(f.executor.RunContainerCallCount()).To(BeZero())
		Expect(completions()).To(Equal([]completion{{"tg-1", cellID, true, "failed to run container", ""}}))
	})

	Describe("a completed container", func() {
		completed := func(rr executor.ContainerRunResult, resultFile string) executor.Container {
			c := taskContainer(executor.StateCompleted)
			c.RunResult = rr
			if resultFile != "" {
				c.Tags[repsync.ResultFileTag] = resultFile
			}
			return c
		}

		It("rejects a retryable failure instead of completing, then deletes", func() {
			process(completed(executor.ContainerRunResult{Failed: true, Retryable: true, FailureReason: "failed to create container: boom"}, "/tmp/result"))
			Expect(f.bbs.RejectTaskCallCount()).To(Equal(1))
			_, guid, reason := f.bbs.RejectTaskArgsForCall(0)
			Expect(guid).To(Equal("tg-1"))
			Expect(reason).To(Equal("failed to create container: boom"))
			Expect(f.bbs.CompleteTaskCallCount()).To(BeZero())
			Expect(f.executor.GetFilesCallCount()).To(BeZero())
			expectDeleted()
		})

		It("keeps the container when the BBS cannot take the rejection, and deletes it when the task is gone", func() {
			f.bbs.RejectTaskReturns(errors.New("bbs down"))
			process(completed(executor.ContainerRunResult{Failed: true, Retryable: true}, ""))
			Expect(f.executor.DeleteContainerCallCount()).To(BeZero(), "the next pass rejects again")
			f.bbs.RejectTaskReturns(models.ErrResourceNotFound)
			process(completed(executor.ContainerRunResult{Failed: true, Retryable: true}, ""))
			expectDeleted()
		})

		It("completes a failed task with its reason and no result", func() {
			process(completed(executor.ContainerRunResult{Failed: true, FailureReason: "Exited with status 1"}, "/tmp/result"))
			Expect(completions()).To(Equal([]completion{{"tg-1", cellID, true, "Exited with status 1", ""}}))
			Expect(f.executor.GetFilesCallCount()).To(BeZero())
			Expect(f.bbs.RejectTaskCallCount()).To(BeZero())
			expectDeleted()
		})

		It("completes a successful task without a result file", func() {
			process(completed(executor.ContainerRunResult{}, ""))
			Expect(completions()).To(Equal([]completion{{"tg-1", cellID, false, "", ""}}))
			Expect(f.executor.GetFilesCallCount()).To(BeZero())
			expectDeleted()
		})

		It("completes a successful task with the first entry of its result file", func() {
			f.executor.GetFilesReturns(tarOf([]byte("the result")), nil)
			process(completed(executor.ContainerRunResult{}, "/tmp/result"))
			Expect(f.executor.GetFilesCallCount()).To(Equal(1))
			guid, path := f.executor.GetFilesArgsForCall(0)
			Expect(guid).To(Equal("tg-1"))
			Expect(path).To(Equal("/tmp/result"))
			Expect(completions()).To(Equal([]completion{{"tg-1", cellID, false, "", "the result"}}))
			expectDeleted()
		})

		It("takes a result of exactly 51200 bytes", func() {
			content := bytes.Repeat([]byte("x"), 51200)
			f.executor.GetFilesReturns(tarOf(content), nil)
			process(completed(executor.ContainerRunResult{}, "/tmp/result"))
			Expect(completions()).To(Equal([]completion{{"tg-1", cellID, false, "", string(content)}}))
		})

		DescribeTable("fails the task with 'failed to fetch result' when the result cannot be read",
			func(stream func() (io.ReadCloser, error)) {
				f.executor.GetFilesStub = func(string, string) (io.ReadCloser, error) { return stream() }
				process(completed(executor.ContainerRunResult{}, "/tmp/result"))
				Expect(completions()).To(Equal([]completion{{"tg-1", cellID, true, "failed to fetch result", ""}}))
				expectDeleted()
			},
			Entry("over 51200 bytes", func() (io.ReadCloser, error) {
				return tarOf(bytes.Repeat([]byte("x"), 51201)), nil
			}),
			Entry("the stream fails", func() (io.ReadCloser, error) {
				return nil, executor.ErrContainerNotFound
			}),
			Entry("an empty tar", func() (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader(make([]byte, 1024))), nil
			}),
		)

		It("says why in the too-large error", func() {
			Expect(repsync.ErrResultFileTooLarge).To(MatchError("result file is too large (over 51200 bytes)"))
		})

		It("fails the task with 'invalid state transition' when completing is refused", func() {
			f.bbs.CompleteTaskReturnsOnCall(0, models.NewTaskTransitionError(models.Task_Pending, models.Task_Completed))
			process(completed(executor.ContainerRunResult{}, ""))
			Expect(completions()).To(Equal([]completion{
				{"tg-1", cellID, false, "", ""},
				{"tg-1", cellID, true, "invalid state transition", ""},
			}))
			expectDeleted()
		})

		It("keeps the container when the BBS cannot take the completion, so the result is not lost", func() {
			f.bbs.CompleteTaskReturns(errors.New("bbs down"))
			process(completed(executor.ContainerRunResult{}, ""))
			Expect(f.bbs.CompleteTaskCallCount()).To(Equal(1))
			Expect(f.executor.DeleteContainerCallCount()).To(BeZero())

			By("completing and deleting on the next pass")
			f.bbs.CompleteTaskReturns(nil)
			process(completed(executor.ContainerRunResult{}, ""))
			Expect(f.bbs.CompleteTaskCallCount()).To(Equal(2))
			expectDeleted()
		})

		It("deletes the container when the task is gone", func() {
			f.bbs.CompleteTaskReturns(models.ErrResourceNotFound)
			process(completed(executor.ContainerRunResult{}, ""))
			Expect(f.bbs.CompleteTaskCallCount()).To(Equal(1))
			expectDeleted()
		})
	})

	It("is the same in evacuation mode: tasks run to completion", func() {
		f.flag.Evacuate()
		f.bbs.StartTaskReturns(true, nil)
		process(taskContainer(executor.StateReserved))
		Expect(f.executor.RunContainerCallCount()).To(Equal(1))
	})
})
