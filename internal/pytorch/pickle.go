package pytorch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// This file holds a minimal pickle virtual machine: enough of protocols 2–5
// to read the data.pkl of a torch.save checkpoint holding a state dict. It
// builds plain Go values and never runs code. A GLOBAL, STACK_GLOBAL or INST
// that names anything outside the allowlist (see allowedGlobals in load.go)
// is refused on the spot, so no later opcode can reach it; REDUCE applies an
// allowlisted callable through a Go function that only builds data; the
// opcodes that call constructors (OBJ, NEWOBJ, NEWOBJ_EX) and the extension
// registry (EXT1/2/4) are refused whatever they name; BUILD only sets state
// on the dicts and tensors the allowlisted callables return, and ignores it.

// Values on the pickle stack.
type (
	tuple  []any
	pylist struct{ items []any }
	// pydict is an insertion-ordered dict with keys of comparable Go types.
	pydict struct {
		keys []any
		vals map[any]any
	}
	// global is a module attribute named by GLOBAL or STACK_GLOBAL.
	global struct{ module, name string }
)

func newDict() *pydict { return &pydict{vals: make(map[any]any)} }

func (d *pydict) set(k, v any) error {
	switch k.(type) {
	case string, int64, bool, float64, nil, global:
	default:
		return fmt.Errorf("unsupported dict key of type %s", typeName(k))
	}
	if _, ok := d.vals[k]; !ok {
		d.keys = append(d.keys, k)
	}
	d.vals[k] = v
	return nil
}

// Limits against hostile input.
const (
	maxMemo       = 1 << 24
	maxStackDepth = 1 << 24
)

// unpickler runs a pickle program.
type unpickler struct {
	data  []byte
	pos   int
	stack []any
	marks []int // stack lengths at each MARK
	memo  map[uint64]any

	// persistentLoad resolves a BINPERSID id.
	persistentLoad func(pid any) (any, error)
	// call applies a callable global to its arguments (REDUCE).
	call func(g global, args tuple) (any, error)
	// allow reports whether a global may be named at all; nil allows none.
	allow func(g global) bool
}

// errRefused is wrapped by every error about a global or an opcode the
// reader refuses to run.
var errRefused = errors.New("refused")

// name checks g against the allowlist.
func (u *unpickler) name(op string, g global) (global, error) {
	if u.allow == nil || !u.allow(g) {
		return g, fmt.Errorf("%w: %s names %s.%s, which is not on the allowlist", errRefused, op, g.module, g.name)
	}
	return g, nil
}

var errTruncated = errors.New("pickle data truncated")

func (u *unpickler) read(n int) ([]byte, error) {
	if n < 0 || n > len(u.data)-u.pos {
		return nil, errTruncated
	}
	b := u.data[u.pos : u.pos+n]
	u.pos += n
	return b, nil
}

func (u *unpickler) readByte() (byte, error) {
	b, err := u.read(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (u *unpickler) readUint(n int) (uint64, error) {
	b, err := u.read(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

func (u *unpickler) readLine() (string, error) {
	i := bytes.IndexByte(u.data[u.pos:], '\n')
	if i < 0 {
		return "", errTruncated
	}
	s := string(u.data[u.pos : u.pos+i])
	u.pos += i + 1
	return s, nil
}

// readSized reads a length of lenBytes little-endian bytes, then that many
// bytes.
func (u *unpickler) readSized(lenBytes int) ([]byte, error) {
	n, err := u.readUint(lenBytes)
	if err != nil {
		return nil, err
	}
	if n > uint64(len(u.data)-u.pos) {
		return nil, errTruncated
	}
	return u.read(int(n))
}

func (u *unpickler) push(v any) error {
	if len(u.stack) >= maxStackDepth {
		return errors.New("pickle stack too deep")
	}
	u.stack = append(u.stack, v)
	return nil
}

func (u *unpickler) pop() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) <= u.marks[len(u.marks)-1]) {
		return nil, errors.New("pickle stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) <= u.marks[len(u.marks)-1]) {
		return nil, errors.New("pickle stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark pops everything pushed since the last MARK.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, errors.New("pickle MARK missing")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, nil
}

func (u *unpickler) memoPut(idx uint64) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	if len(u.memo) >= maxMemo {
		if _, ok := u.memo[idx]; !ok {
			return errors.New("pickle memo too large")
		}
	}
	u.memo[idx] = v
	return nil
}

func (u *unpickler) memoGet(idx uint64) error {
	v, ok := u.memo[idx]
	if !ok {
		return fmt.Errorf("pickle memo key %d not defined", idx)
	}
	return u.push(v)
}

// run executes the program and returns the value STOP leaves.
func (u *unpickler) run() (any, error) {
	u.memo = make(map[uint64]any)
	for {
		at := u.pos
		op, err := u.readByte()
		if err != nil {
			return nil, err
		}
		done, err := u.step(op)
		if err != nil {
			return nil, fmt.Errorf("pickle opcode %#02x at offset %d: %w", op, at, err)
		}
		if done {
			if len(u.marks) != 0 || len(u.stack) != 1 {
				return nil, errors.New("pickle STOP with unbalanced stack")
			}
			return u.stack[0], nil
		}
	}
}

// step executes one opcode; it reports true at STOP.
func (u *unpickler) step(op byte) (bool, error) {
	switch op {
	case 0x80: // PROTO
		p, err := u.readByte()
		if err != nil {
			return false, err
		}
		if p > 5 {
			return false, fmt.Errorf("unsupported pickle protocol %d", p)
		}
	case 0x95: // FRAME: only a length hint
		if _, err := u.read(8); err != nil {
			return false, err
		}
	case '.': // STOP
		return true, nil
	case '(': // MARK
		u.marks = append(u.marks, len(u.stack))
		if len(u.marks) > maxStackDepth {
			return false, errors.New("too many MARKs")
		}
	case ')': // EMPTY_TUPLE
		return false, u.push(tuple{})
	case ']': // EMPTY_LIST
		return false, u.push(&pylist{})
	case '}': // EMPTY_DICT
		return false, u.push(newDict())
	case 't': // TUPLE
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		return false, u.push(tuple(items))
	case 0x85, 0x86, 0x87: // TUPLE1, TUPLE2, TUPLE3
		n := int(op-0x85) + 1
		items := make(tuple, n)
		for i := n - 1; i >= 0; i-- {
			v, err := u.pop()
			if err != nil {
				return false, err
			}
			items[i] = v
		}
		return false, u.push(items)
	case 'l': // LIST
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		return false, u.push(&pylist{items: items})
	case 'd': // DICT
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		d := newDict()
		if err := setItems(d, items); err != nil {
			return false, err
		}
		return false, u.push(d)
	case 'a': // APPEND
		v, err := u.pop()
		if err != nil {
			return false, err
		}
		return false, u.appendTo([]any{v})
	case 'e': // APPENDS
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		return false, u.appendTo(items)
	case 's': // SETITEM
		v, err := u.pop()
		if err != nil {
			return false, err
		}
		k, err := u.pop()
		if err != nil {
			return false, err
		}
		return false, u.setItemsOnTop([]any{k, v})
	case 'u': // SETITEMS
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		return false, u.setItemsOnTop(items)
	case 'N': // NONE
		return false, u.push(nil)
	case 0x88: // NEWTRUE
		return false, u.push(true)
	case 0x89: // NEWFALSE
		return false, u.push(false)
	case 'J': // BININT
		v, err := u.readUint(4)
		if err != nil {
			return false, err
		}
		return false, u.push(int64(int32(uint32(v))))
	case 'K': // BININT1
		v, err := u.readUint(1)
		if err != nil {
			return false, err
		}
		return false, u.push(int64(v))
	case 'M': // BININT2
		v, err := u.readUint(2)
		if err != nil {
			return false, err
		}
		return false, u.push(int64(v))
	case 0x8a, 0x8b: // LONG1, LONG4
		lenBytes := 1
		if op == 0x8b {
			lenBytes = 4
		}
		b, err := u.readSized(lenBytes)
		if err != nil {
			return false, err
		}
		v, err := decodeLong(b)
		if err != nil {
			return false, err
		}
		return false, u.push(v)
	case 'G': // BINFLOAT, big-endian
		b, err := u.read(8)
		if err != nil {
			return false, err
		}
		return false, u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
	case 'X', 0x8c, 0x8d, 'T', 'U': // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8, BINSTRING, SHORT_BINSTRING
		b, err := u.readSized(lengthSize(op))
		if err != nil {
			return false, err
		}
		return false, u.push(string(b))
	case 'B', 'C', 0x8e: // BINBYTES, SHORT_BINBYTES, BINBYTES8
		b, err := u.readSized(lengthSize(op))
		if err != nil {
			return false, err
		}
		return false, u.push(append([]byte(nil), b...))
	case 'q': // BINPUT
		idx, err := u.readUint(1)
		if err != nil {
			return false, err
		}
		return false, u.memoPut(idx)
	case 'r': // LONG_BINPUT
		idx, err := u.readUint(4)
		if err != nil {
			return false, err
		}
		return false, u.memoPut(idx)
	case 0x94: // MEMOIZE
		return false, u.memoPut(uint64(len(u.memo)))
	case 'h': // BINGET
		idx, err := u.readUint(1)
		if err != nil {
			return false, err
		}
		return false, u.memoGet(idx)
	case 'j': // LONG_BINGET
		idx, err := u.readUint(4)
		if err != nil {
			return false, err
		}
		return false, u.memoGet(idx)
	case 'c': // GLOBAL
		module, err := u.readLine()
		if err != nil {
			return false, err
		}
		name, err := u.readLine()
		if err != nil {
			return false, err
		}
		g, err := u.name("GLOBAL", global{module, name})
		if err != nil {
			return false, err
		}
		return false, u.push(g)
	case 0x93: // STACK_GLOBAL
		name, err := u.pop()
		if err != nil {
			return false, err
		}
		module, err := u.pop()
		if err != nil {
			return false, err
		}
		ms, ok1 := module.(string)
		ns, ok2 := name.(string)
		if !ok1 || !ok2 {
			return false, errors.New("STACK_GLOBAL needs two strings")
		}
		g, err := u.name("STACK_GLOBAL", global{ms, ns})
		if err != nil {
			return false, err
		}
		return false, u.push(g)
	case 'Q': // BINPERSID
		pid, err := u.pop()
		if err != nil {
			return false, err
		}
		if u.persistentLoad == nil {
			return false, errors.New("persistent id without a loader")
		}
		v, err := u.persistentLoad(pid)
		if err != nil {
			return false, err
		}
		return false, u.push(v)
	case 'R': // REDUCE
		args, err := u.pop()
		if err != nil {
			return false, err
		}
		fn, err := u.pop()
		if err != nil {
			return false, err
		}
		g, ok := fn.(global)
		if !ok {
			return false, fmt.Errorf("REDUCE on a %s, not a global", typeName(fn))
		}
		at, ok := args.(tuple)
		if !ok {
			return false, fmt.Errorf("REDUCE %s.%s with %s arguments, not a tuple", g.module, g.name, typeName(args))
		}
		if u.call == nil {
			return false, fmt.Errorf("REDUCE %s.%s without a handler", g.module, g.name)
		}
		v, err := u.call(g, at)
		if err != nil {
			return false, err
		}
		return false, u.push(v)
	case 'b': // BUILD: set state on the object below; state is not needed here
		if _, err := u.pop(); err != nil {
			return false, err
		}
		obj, err := u.top()
		if err != nil {
			return false, err
		}
		// Python would call obj.__setstate__ or update obj.__dict__: allow
		// it only on values the allowlisted callables build (an OrderedDict
		// with _metadata, a parameter with state), never on a class.
		switch o := obj.(type) {
		case *pydict, *tensor:
		case global:
			return false, fmt.Errorf("%w: BUILD on %s.%s", errRefused, o.module, o.name)
		default:
			return false, fmt.Errorf("%w: BUILD on a %s", errRefused, typeName(obj))
		}
	case 'i': // INST: names a class inline, then calls it
		module, err := u.readLine()
		if err != nil {
			return false, err
		}
		name, err := u.readLine()
		if err != nil {
			return false, err
		}
		if _, err := u.name("INST", global{module, name}); err != nil {
			return false, err
		}
		return false, fmt.Errorf("%w: INST %s.%s (a state dict never instantiates classes)", errRefused, module, name)
	case 'o', 0x81, 0x92: // OBJ, NEWOBJ, NEWOBJ_EX: call a class from the stack
		return false, u.refuseConstructor(op)
	case 0x82, 0x83, 0x84: // EXT1, EXT2, EXT4: globals from copyreg's registry
		return false, fmt.Errorf("%w: EXT%d (the extension registry names arbitrary globals)", errRefused, lengthOfExt(op))
	case 'P': // PERSID: a text persistent id; torch writes BINPERSID tuples
		pid, err := u.readLine()
		if err != nil {
			return false, err
		}
		return false, fmt.Errorf("%w: text persistent id %q (only storages are loaded)", errRefused, pid)
	case '0': // POP
		if _, err := u.pop(); err != nil {
			return false, err
		}
	case '1': // POP_MARK
		if _, err := u.popMark(); err != nil {
			return false, err
		}
	case '2': // DUP
		v, err := u.top()
		if err != nil {
			return false, err
		}
		return false, u.push(v)
	default:
		return false, errors.New("unsupported pickle opcode")
	}
	return false, nil
}

// refuseConstructor names what OBJ, NEWOBJ or NEWOBJ_EX would have called.
func (u *unpickler) refuseConstructor(op byte) error {
	opName := map[byte]string{'o': "OBJ", 0x81: "NEWOBJ", 0x92: "NEWOBJ_EX"}[op]
	// The class sits below its arguments: one value (NEWOBJ), two
	// (NEWOBJ_EX) or at the MARK (OBJ).
	var cls any
	switch {
	case op == 'o' && len(u.marks) > 0 && u.marks[len(u.marks)-1] < len(u.stack):
		cls = u.stack[u.marks[len(u.marks)-1]]
	case op == 0x81 && len(u.stack) >= 2:
		cls = u.stack[len(u.stack)-2]
	case op == 0x92 && len(u.stack) >= 3:
		cls = u.stack[len(u.stack)-3]
	}
	if g, ok := cls.(global); ok {
		return fmt.Errorf("%w: %s on %s.%s (a state dict never instantiates classes)", errRefused, opName, g.module, g.name)
	}
	return fmt.Errorf("%w: %s on a %s", errRefused, opName, typeName(cls))
}

func lengthOfExt(op byte) int {
	switch op {
	case 0x82:
		return 1
	case 0x83:
		return 2
	}
	return 4
}

// lengthSize returns the size of the length prefix of a string or bytes
// opcode.
func lengthSize(op byte) int {
	switch op {
	case 0x8c, 'U', 'C': // SHORT_BINUNICODE, SHORT_BINSTRING, SHORT_BINBYTES
		return 1
	case 0x8d, 0x8e: // BINUNICODE8, BINBYTES8
		return 8
	default: // BINUNICODE, BINSTRING, BINBYTES
		return 4
	}
}

func (u *unpickler) appendTo(items []any) error {
	t, err := u.top()
	if err != nil {
		return err
	}
	l, ok := t.(*pylist)
	if !ok {
		return fmt.Errorf("APPEND to a %s, not a list", typeName(t))
	}
	l.items = append(l.items, items...)
	return nil
}

func (u *unpickler) setItemsOnTop(items []any) error {
	t, err := u.top()
	if err != nil {
		return err
	}
	d, ok := t.(*pydict)
	if !ok {
		return fmt.Errorf("SETITEM on a %s, not a dict", typeName(t))
	}
	return setItems(d, items)
}

func setItems(d *pydict, items []any) error {
	if len(items)%2 != 0 {
		return errors.New("odd number of items for a dict")
	}
	for i := 0; i < len(items); i += 2 {
		if err := d.set(items[i], items[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// decodeLong decodes a little-endian two's-complement integer of up to 8
// bytes.
func decodeLong(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if len(b) > 8 {
		return 0, fmt.Errorf("integer of %d bytes too large", len(b))
	}
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	if shift := 64 - 8*len(b); shift > 0 && b[len(b)-1]&0x80 != 0 {
		v |= ^uint64(0) << (64 - shift)
	}
	return int64(v), nil
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "None"
	case tuple:
		return "tuple"
	case *pylist:
		return "list"
	case *pydict:
		return "dict"
	case global:
		return "global"
	case string:
		return "str"
	case int64:
		return "int"
	case float64:
		return "float"
	case bool:
		return "bool"
	case []byte:
		return "bytes"
	default:
		return fmt.Sprintf("%T", v)
	}
}
