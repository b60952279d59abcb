// Package pytorch reads state dicts saved by torch.save (the zip format used
// since PyTorch 1.6) without Python: a zip holding {prefix}/data.pkl, a pickle
// of the dict, and {prefix}/data/{key}, the raw bytes of each storage.
//
// Only what a plain state dict needs is understood: tensors rebuilt by
// torch._utils._rebuild_tensor_v2 (or _rebuild_parameter) over typed
// storages, in dicts or OrderedDicts. Nothing in the pickle is executed.
//
// A checkpoint is untrusted input: in Python, unpickling it may run any
// callable it names. This reader names only the globals listed below and
// refuses every other one, with an error naming it, at the opcode that names
// it (GLOBAL, STACK_GLOBAL, INST):
//
//   - collections.OrderedDict, called with no arguments: an empty dict;
//   - torch._utils._rebuild_tensor_v2 and _rebuild_tensor: a view of a
//     storage, copied into a new tensor;
//   - torch._utils._rebuild_parameter and _rebuild_parameter_with_state: the
//     tensor they wrap;
//   - torch.FloatStorage, HalfStorage, BFloat16Storage, DoubleStorage,
//     LongStorage, IntStorage, ShortStorage, CharStorage, ByteStorage and
//     BoolStorage: storage types, only inside a ('storage', type, key,
//     location, numel) persistent id, which reads {prefix}/data/{key}.
//
// Each of these is a Go function that builds data; none calls back into the
// pickle. OBJ, NEWOBJ, NEWOBJ_EX, INST and the EXT opcodes are refused
// whatever they name, BUILD only on the dicts and tensors above (its state
// is ignored), and persistent ids other than storages are refused.
//
// Memory is bounded by the archive's real size: entries are read only up to
// maxExpansion times the archive's size in all, a zip entry whose declared
// size exceeds what is left is refused before it is read, and tensors copied
// out of strided views may add up to at most the storages' bytes again.
package pytorch

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/sie-project/sie/internal/safetensors"
)

// Load reads the torch.save checkpoint at path and returns its tensors by
// name. The checkpoint must hold a flat dict of tensors; any other value is
// an error.
func Load(path string) (map[string]*safetensors.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pytorch: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("pytorch: %w", err)
	}
	zr, err := zip.NewReader(f, st.Size())
	if err != nil {
		if errors.Is(err, zip.ErrFormat) {
			return nil, fmt.Errorf("pytorch: %s: not a zip archive (the legacy pre-1.6 torch.save format is not supported): %w", path, err)
		}
		return nil, fmt.Errorf("pytorch: %w", err)
	}
	tensors, err := load(zr, st.Size())
	if err != nil {
		return nil, fmt.Errorf("pytorch: %s: %w", path, err)
	}
	return tensors, nil
}

// maxPickleSize bounds data.pkl, which for a state dict holds only names,
// shapes and references.
const maxPickleSize = 1 << 30

// storage is one loaded torch storage.
type storage struct {
	dtype safetensors.DType
	numel int
	data  []byte
}

// tensor is a tensor rebuilt from a storage, before it gets a name.
type tensor struct {
	dtype safetensors.DType
	shape []int
	data  []byte
}

type loader struct {
	files    map[string]*zip.File
	prefix   string
	storages map[string]*storage

	// readLeft is how many more bytes entries may decompress to; copyLeft
	// how many more bytes strided views may copy.
	readLeft, copyLeft int64
}

// maxExpansion bounds the bytes read out of an archive by a multiple of its
// size. torch.save stores entries uncompressed (1:1); the slack admits
// archives re-zipped with compression without admitting zip bombs, whose
// entries can decompress to a thousand times their size.
const maxExpansion = 4

// load reads the checkpoint in zr, whose archive is size bytes long.
func load(zr *zip.Reader, size int64) (map[string]*safetensors.Tensor, error) {
	l := &loader{files: make(map[string]*zip.File), storages: make(map[string]*storage),
		readLeft: maxExpansion*size + 1<<16, copyLeft: 1 << 16}
	var pkl *zip.File
	for _, f := range zr.File {
		l.files[f.Name] = f
		dir, base, ok := strings.Cut(f.Name, "/")
		if ok && base == "data.pkl" {
			if pkl != nil {
				return nil, errors.New("archive holds more than one data.pkl")
			}
			pkl, l.prefix = f, dir
		}
	}
	if pkl == nil {
		return nil, errors.New("archive has no {prefix}/data.pkl: not a torch.save checkpoint")
	}
	if bo, ok := l.files[l.prefix+"/byteorder"]; ok {
		b, err := l.readZipFile(bo, 16)
		if err != nil {
			return nil, err
		}
		if s := strings.TrimSpace(string(b)); s != "little" {
			return nil, fmt.Errorf("unsupported byte order %q", s)
		}
	}
	prog, err := l.readZipFile(pkl, maxPickleSize)
	if err != nil {
		return nil, err
	}
	u := &unpickler{data: prog, persistentLoad: l.persistentLoad, call: l.call, allow: allowGlobal}
	v, err := u.run()
	if err != nil {
		return nil, err
	}
	d, ok := v.(*pydict)
	if !ok {
		return nil, fmt.Errorf("checkpoint holds a %s, want a dict of tensors", typeName(v))
	}
	out := make(map[string]*safetensors.Tensor, len(d.keys))
	for _, k := range d.keys {
		name, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("state dict key %v is a %s, not a string", k, typeName(k))
		}
		t, ok := d.vals[k].(*tensor)
		if !ok {
			return nil, fmt.Errorf("state dict entry %q is a %s, not a tensor", name, typeName(d.vals[k]))
		}
		st, err := safetensors.NewTensor(name, t.dtype, t.shape, t.data)
		if err != nil {
			return nil, err
		}
		out[name] = st
	}
	return out, nil
}

// readZipFile reads one entry of at most limit bytes, within what is left
// of the archive's read budget. A declared size over the limit is refused
// before anything is allocated; an entry that lies about its size is cut at
// the limit.
func (l *loader) readZipFile(f *zip.File, limit int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("%s: %d bytes exceeds the %d-byte limit", f.Name, f.UncompressedSize64, limit)
	}
	if f.UncompressedSize64 > uint64(l.readLeft) {
		return nil, fmt.Errorf("%s: %d bytes uncompressed, more than an archive of this size may hold (a zip bomb?)", f.Name, f.UncompressedSize64)
	}
	limit = min(limit, l.readLeft)
	b, err := readZipFile(f, limit)
	l.readLeft -= int64(len(b))
	return b, err
}

func readZipFile(f *zip.File, limit int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("%s: %d bytes exceeds the %d-byte limit", f.Name, f.UncompressedSize64, limit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: exceeds the %d-byte limit", f.Name, limit)
	}
	return b, nil
}

// storageTypes maps torch's legacy typed-storage classes to dtypes.
var storageTypes = map[string]safetensors.DType{
	"FloatStorage":    safetensors.F32,
	"HalfStorage":     safetensors.F16,
	"BFloat16Storage": safetensors.BF16,
	"DoubleStorage":   safetensors.F64,
	"LongStorage":     safetensors.I64,
	"IntStorage":      safetensors.I32,
	"ShortStorage":    safetensors.I16,
	"CharStorage":     safetensors.I8,
	"ByteStorage":     safetensors.U8,
	"BoolStorage":     safetensors.Bool,
}

// persistentLoad resolves ('storage', storage_type, key, location, numel).
func (l *loader) persistentLoad(pid any) (any, error) {
	t, ok := pid.(tuple)
	if !ok || len(t) != 5 {
		return nil, fmt.Errorf("persistent id is a %s, want a 5-tuple", typeName(pid))
	}
	if kind, _ := t[0].(string); kind != "storage" {
		return nil, fmt.Errorf("persistent id of kind %v, want storage", t[0])
	}
	g, ok := t[1].(global)
	if !ok || g.module != "torch" {
		return nil, fmt.Errorf("unsupported storage type %v", t[1])
	}
	dtype, ok := storageTypes[g.name]
	if !ok {
		return nil, fmt.Errorf("unsupported storage type torch.%s", g.name)
	}
	key, ok := t[2].(string)
	if !ok || key == "" || strings.ContainsAny(key, "/\\") || key == "." || key == ".." {
		return nil, fmt.Errorf("bad storage key %v", t[2])
	}
	numel, err := toInt(t[4])
	if err != nil {
		return nil, fmt.Errorf("storage %s: element count: %w", key, err)
	}
	if s, ok := l.storages[key]; ok {
		if s.dtype != dtype || s.numel != numel {
			return nil, fmt.Errorf("storage %s referenced with different types", key)
		}
		return s, nil
	}
	f, ok := l.files[l.prefix+"/data/"+key]
	if !ok {
		return nil, fmt.Errorf("storage %s: %s/data/%s missing from the archive", key, l.prefix, key)
	}
	size := int64(numel) * int64(dtype.Size())
	if numel > math.MaxInt64/8 || f.UncompressedSize64 < uint64(size) {
		return nil, fmt.Errorf("storage %s: %d bytes, want %d elements of %s", key, f.UncompressedSize64, numel, dtype)
	}
	data, err := l.readZipFile(f, size)
	if err != nil {
		return nil, fmt.Errorf("storage %s: %w", key, err)
	}
	if int64(len(data)) != size {
		return nil, fmt.Errorf("storage %s: %d bytes, want %d", key, len(data), size)
	}
	s := &storage{dtype: dtype, numel: numel, data: data}
	l.storages[key] = s
	l.copyLeft += size
	return s, nil
}

// allowedGlobals is the allowlist described in the package documentation.
var allowedGlobals = func() map[global]bool {
	m := map[global]bool{
		{"collections", "OrderedDict"}:                    true,
		{"torch._utils", "_rebuild_tensor_v2"}:            true,
		{"torch._utils", "_rebuild_tensor"}:               true,
		{"torch._utils", "_rebuild_parameter"}:            true,
		{"torch._utils", "_rebuild_parameter_with_state"}: true,
	}
	for name := range storageTypes {
		m[global{"torch", name}] = true
	}
	return m
}()

func allowGlobal(g global) bool { return allowedGlobals[g] }

// call applies the callables a state dict uses.
func (l *loader) call(g global, args tuple) (any, error) {
	switch g.module + "." + g.name {
	case "collections.OrderedDict":
		if len(args) != 0 {
			return nil, errors.New("OrderedDict with arguments is not supported")
		}
		return newDict(), nil
	case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
		// (storage, storage_offset, size, stride[, requires_grad, backward_hooks[, metadata]])
		if len(args) < 4 {
			return nil, fmt.Errorf("%s.%s: %d arguments, want at least 4", g.module, g.name, len(args))
		}
		return rebuildTensor(args[0], args[1], args[2], args[3], &l.copyLeft)
	case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
		// (data, requires_grad, backward_hooks[, state])
		if len(args) < 1 {
			return nil, fmt.Errorf("%s.%s: no arguments", g.module, g.name)
		}
		if _, ok := args[0].(*tensor); !ok {
			return nil, fmt.Errorf("%s.%s: argument is a %s, not a tensor", g.module, g.name, typeName(args[0]))
		}
		return args[0], nil
	default:
		// A storage type is allowlisted as a name inside a persistent id,
		// not as a callable.
		return nil, fmt.Errorf("%w: REDUCE on %s.%s, which is not callable here", errRefused, g.module, g.name)
	}
}

// rebuildTensor copies the elements a (storage, offset, size, stride) view
// selects into a new row-major tensor.
//
// Copies come out of copyLeft: a pickle that rebuilds many strided views of
// one storage cannot turn a small archive into a large allocation.
func rebuildTensor(storageArg, offsetArg, sizeArg, strideArg any, copyLeft *int64) (*tensor, error) {
	s, ok := storageArg.(*storage)
	if !ok {
		return nil, fmt.Errorf("tensor storage is a %s", typeName(storageArg))
	}
	offset, err := toInt(offsetArg)
	if err != nil {
		return nil, fmt.Errorf("tensor storage offset: %w", err)
	}
	shape, err := toInts(sizeArg)
	if err != nil {
		return nil, fmt.Errorf("tensor size: %w", err)
	}
	stride, err := toInts(strideArg)
	if err != nil {
		return nil, fmt.Errorf("tensor stride: %w", err)
	}
	if len(shape) != len(stride) {
		return nil, fmt.Errorf("tensor size %v and stride %v differ in length", shape, stride)
	}
	numel := 1
	for _, d := range shape {
		if d > 0 && numel > math.MaxInt32/d {
			return nil, fmt.Errorf("tensor size %v too large", shape)
		}
		numel *= d
	}
	es := s.dtype.Size()
	if numel == 0 {
		return &tensor{dtype: s.dtype, shape: shape, data: []byte{}}, nil
	}
	// The last element the view touches must lie inside the storage.
	// Every dimension is at most MaxInt32 here; checking as we go keeps the
	// sum from overflowing.
	last := offset
	for i, d := range shape {
		if stride[i] > math.MaxInt32 {
			last = s.numel
			break
		}
		if last += (d - 1) * stride[i]; last >= s.numel {
			break
		}
	}
	if last >= s.numel {
		return nil, fmt.Errorf("tensor (offset %d, size %v, stride %v) exceeds its storage of %d elements", offset, shape, stride, s.numel)
	}
	if numel > s.numel {
		return nil, fmt.Errorf("tensor of size %v is larger than its storage of %d elements (expanded tensors are not supported)", shape, s.numel)
	}

	if isContiguous(shape, stride) {
		data := s.data[offset*es : (offset+numel)*es : (offset+numel)*es]
		return &tensor{dtype: s.dtype, shape: shape, data: data}, nil
	}
	if int64(numel*es) > *copyLeft {
		return nil, fmt.Errorf("tensor views of size %v copy more bytes than the checkpoint's storages hold", shape)
	}
	*copyLeft -= int64(numel * es)
	data := make([]byte, numel*es)
	idx := make([]int, len(shape))
	src := offset
	for i := 0; i < numel; i++ {
		copy(data[i*es:(i+1)*es], s.data[src*es:(src+1)*es])
		// Advance the multi-index, last dimension fastest.
		for d := len(shape) - 1; d >= 0; d-- {
			idx[d]++
			src += stride[d]
			if idx[d] < shape[d] {
				break
			}
			src -= idx[d] * stride[d]
			idx[d] = 0
		}
	}
	return &tensor{dtype: s.dtype, shape: shape, data: data}, nil
}

// isContiguous reports whether stride is the row-major stride of shape
// (dimensions of size 1 may have any stride).
func isContiguous(shape, stride []int) bool {
	want := 1
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] != 1 && stride[i] != want {
			return false
		}
		want *= shape[i]
	}
	return true
}

func toInt(v any) (int, error) {
	i, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("%s is not an int", typeName(v))
	}
	if i < 0 || i > math.MaxInt32*int64(1<<16) {
		return 0, fmt.Errorf("%d out of range", i)
	}
	return int(i), nil
}

func toInts(v any) ([]int, error) {
	t, ok := v.(tuple)
	if !ok {
		return nil, fmt.Errorf("%s is not a tuple", typeName(v))
	}
	out := make([]int, len(t))
	for i, x := range t {
		n, err := toInt(x)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}
