// Bounds applied to route and plan input before any parser sees it: nesting depth.
//
//   CIT_RETURN_IF_ERROR(CheckJsonNesting(text, "route.geojson"));  // before nlohmann::json::parse
//
// Why a pre-scan: the JSON library parses iteratively, but dump(), comparison and the code that
// walks the document recurse once per nesting level, so 100,000 nested arrays (200 KB) overflow
// the stack of whichever thread touches them (a gRPC callback thread on the server). A linear
// scan of the bracket depth (outside strings) refuses such input before anything recursive runs.
//
// Thread contract: free functions without shared state.
#ifndef CIT_GEO_INPUT_LIMITS_H_
#define CIT_GEO_INPUT_LIMITS_H_

#include <cstddef>
#include <string_view>

#include "absl/status/status.h"

namespace cit::geo {

// Deepest nesting of arrays/objects (or XML elements, TOML tables/arrays) accepted anywhere. A
// GeoJSON FeatureCollection needs 6 levels, a plan file with an inline route 5; 64 leaves room for
// deep "properties" without letting a recursive walk get anywhere near the stack's end.
inline constexpr std::size_t kMaxNestingDepth = 64;

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

}  // namespace cit::geo

#endif  // CIT_GEO_INPUT_LIMITS_H_
