// Bounds applied to route and plan input before any parser sees it: nesting depth and file size.
//
//   CIT_RETURN_IF_ERROR(CheckJsonNesting(text, "route.geojson"));  // before nlohmann::json::parse
//   absl::StatusOr<std::string> text = ReadFileBounded(path, kMaxInputFileBytes);
//
// Why a pre-scan: the JSON library parses iteratively, but dump(), comparison and the code that
// walks the document recurse once per nesting level, so 100,000 nested arrays (200 KB) overflow
// the stack of whichever thread touches them (a gRPC callback thread on the server). A linear
// scan of the bracket depth (outside strings) refuses such input before anything recursive runs.
// ReadFileBounded refuses non-regular files (a FIFO, /dev/zero, a directory) and never reads more
// than the limit, so a file that grows while it is read cannot exhaust memory either.
//
// Thread contract: free functions without shared state.
#ifndef CIT_GEO_INPUT_LIMITS_H_
#define CIT_GEO_INPUT_LIMITS_H_

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cit::geo {

// Deepest nesting of arrays/objects (or XML elements, TOML tables/arrays) accepted anywhere. A
// GeoJSON FeatureCollection needs 6 levels, a plan file with an inline route 5; 64 leaves room for
// deep "properties" without letting a recursive walk get anywhere near the stack's end.
inline constexpr std::size_t kMaxNestingDepth = 64;
// Largest route or plan file read from disk (plans reference their route files).
inline constexpr std::size_t kMaxInputFileBytes = 64u << 20;

// The deepest array/object nesting of JSON `text`, brackets inside strings not counted. Stops
// counting (and returns that depth) once it passes `stop_after`. Malformed JSON is fine: the
// parser reports it afterwards.
std::size_t JsonNestingDepth(std::string_view text, std::size_t stop_after = kMaxNestingDepth);

// OK, or InvalidArgument "<source>: JSON nested more than 64 levels deep (at byte N); ...".
absl::Status CheckJsonNesting(std::string_view text, std::string_view source_name,
                              std::size_t max_depth = kMaxNestingDepth);

// An upper bound of the table/array nesting of TOML `text`: toml++ bounds nested values (256)
// but not dotted keys, and `a.a.a...` with 100,000 segments overflows the stack in the parser.
// Counts, outside strings and comments, the open brackets plus the dots of the key in force
// (dots of a float value count too: harmless, at most one per number). Stops past `stop_after`.
std::size_t TomlNestingDepth(std::string_view text, std::size_t stop_after = kMaxNestingDepth);

// OK, or InvalidArgument "<source>: TOML nested more than 64 levels deep (line N); ...".
absl::Status CheckTomlNesting(std::string_view text, std::string_view source_name,
                              std::size_t max_depth = kMaxNestingDepth);

// The whole file, or NotFound (missing), InvalidArgument (not a regular file, larger than
// `max_bytes`) or an I/O error; every message starts with the path.
absl::StatusOr<std::string> ReadFileBounded(const std::filesystem::path& path,
                                            std::size_t max_bytes = kMaxInputFileBytes);

}  // namespace cit::geo

#endif  // CIT_GEO_INPUT_LIMITS_H_
