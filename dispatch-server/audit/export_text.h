// Numbers and times as export documents write them, appended in place without a format string
// (issue 14 §2: an 8 h run's CSV is ~29,000 lines of ~12 numbers and 2 times each, and parsing
// fmt's format strings at run time was the largest part of its server CPU).
//
//   std::string line;
//   AppendFixed(line, 47.3769121, 7);   // "47.3769121", exactly printf("%.*f")
//   AppendUint(line, 42);               // "42"
//   AppendRfc3339(t, line);             // "2026-12-07T06:00:00.250Z", as TimeUtil::ToString
//
// Thread contract: pure functions.
#ifndef CIT_DISPATCH_SERVER_AUDIT_EXPORT_TEXT_H_
#define CIT_DISPATCH_SERVER_AUDIT_EXPORT_TEXT_H_

#include <google/protobuf/timestamp.pb.h>

#include <cstdint>
#include <string>

namespace cit::dispatch {

// printf's "%.*f": correctly rounded (ties to even), "nan"/"inf"/"-inf" as printf writes them.
void AppendFixed(std::string& out, double v, int decimals);

// Decimal digits of v.
void AppendUint(std::string& out, uint64_t v);

// TimeUtil::ToString's text ("2026-12-07T06:00:00Z", fractions of 3, 6 or 9 digits), written
// directly. Outside years 1..9999 or with invalid nanos, TimeUtil itself.
void AppendRfc3339(const google::protobuf::Timestamp& t, std::string& out);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUDIT_EXPORT_TEXT_H_
