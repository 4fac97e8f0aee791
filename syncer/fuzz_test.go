package syncer

import (
	"math/rand"
	"testing"
)

// FuzzMakePlan builds a folder, its records and its task from the fuzz bytes, then
// checks that the plan is safe, converges in one pass, and stays within its cost.
func FuzzMakePlan(f *testing.F) {
	for seed := int64(1); seed <= 8; seed++ {
		b := make([]byte, 64*seed)
		rand.New(rand.NewSource(seed)).Read(b)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0, 0, 25, 1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := checkScenario(genScenario(&byteChooser{b: data})); err != nil {
			t.Fatal(err)
		}
	})
}
