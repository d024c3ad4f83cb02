package linux

import (
	"diego/garden/backend/linux/reexec"
	// The shim's tar streams: its init registers them with reexec (and runs
	// a shim that streams one).
	_ "diego/garden/backend/linux/tarstream"
)

// Names shared with the parts the binary plays when re-executed
// (garden-init, the exec shim, garden-dadoo), which live in package reexec
// so that they start without initialising the server's packages.
const (
	dadooArgv0      = reexec.DadooArgv0
	defaultRootPath = reexec.DefaultRootPath
	execArg         = reexec.ExecArg
	exitCodeFile    = reexec.ExitCodeFile
	initSocketName  = reexec.InitSocketName
	kindExec        = reexec.KindExec
	kindTarIn       = reexec.KindTarIn
	kindTarOut      = reexec.KindTarOut
	listenArg       = reexec.ListenArg
	notFoundTag     = reexec.NotFoundTag
	pidTag          = reexec.PidTag
	shimFailedTag   = reexec.ShimFailedTag
	shimSpecEnv     = reexec.ShimSpecEnv
	stderrFifo      = reexec.StderrFifo
	stdoutFifo      = reexec.StdoutFifo
)

type (
	dadooArgs = reexec.DadooArgs
	shimSpec  = reexec.ShimSpec
)

var (
	listenInitSocket = reexec.ListenInitSocket
	lookupUser       = reexec.LookupUser
	ociRlimits       = reexec.OCIRlimits
	processEnv       = reexec.ProcessEnv
	readJSON         = reexec.ReadJSON
	runcError        = reexec.RuncError
	writeFile        = reexec.WriteFile
)
