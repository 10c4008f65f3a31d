package worker

// WorkerEnvForTest exposes workerEnv to the external tests.
var WorkerEnvForTest = workerEnv
