package oscore

// WindowSize is the replay window (RFC 8613 3.2.2, profile 4.5).
const WindowSize = 32

// ReplayWindow is RFC 8613 7.4's sliding window over received Partial IVs:
// the highest value seen and a bitmap of the WindowSize values at and
// below it. The zero value has seen nothing.
type ReplayWindow struct {
	// High is the highest Partial IV seen plus one; 0 means none seen.
	High uint64
	// Bitmap bit i is set when Partial IV High-1-i was seen.
	Bitmap uint32
}

// Seen reports whether piv was seen or lies below the window.
func (w ReplayWindow) Seen(piv uint64) bool {
	if piv >= w.High {
		return false
	}
	d := w.High - 1 - piv
	return d >= WindowSize || w.Bitmap&(1<<d) != 0
}

// Mark records piv. It returns false, changing nothing, when piv was
// already seen or lies below the window.
func (w *ReplayWindow) Mark(piv uint64) bool {
	if w.Seen(piv) || piv > MaxSequence {
		return false
	}
	if piv >= w.High {
		shift := piv + 1 - w.High
		if shift >= WindowSize {
			w.Bitmap = 0
		} else {
			w.Bitmap <<= shift
		}
		w.High = piv + 1
		w.Bitmap |= 1
		return true
	}
	w.Bitmap |= 1 << (w.High - 1 - piv)
	return true
}
