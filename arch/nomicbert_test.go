package arch_test

import "testing"

func TestNomicBertHiddenStates(t *testing.T) { checkFixture(t, "nomicbert") }

func TestNomicBertPacking(t *testing.T) { checkPacking(t, "nomicbert", []int{0, 1}, []int{5, 2, 8}) }
