package assign

import "strings"

// WithoutRoutingLock makes every routing transaction of this process read the
// routing_state row without FOR UPDATE: plans and operations of several replicas then
// interleave. Only the replica processes of TestTwoReplicaProcessesWithoutTheLock call
// it, before any transaction.
func WithoutRoutingLock() { lockRowSQL = strings.TrimSuffix(lockRowSQL, " FOR UPDATE") }
