package arch_test

import "testing"

func TestMPNetHiddenStates(t *testing.T) { checkFixture(t, "mpnet") }

func TestMPNetPacking(t *testing.T) { checkPacking(t, "mpnet", []int{0, 1}, []int{3, 2, 5}) }
