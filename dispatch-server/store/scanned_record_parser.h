// Stored record bodies parsed for a scan (Store::ScanPage on either backend): each body is
// parsed once, into an arena reset every few hundred records, so a scan allocates per arena
// block, not per record, and its memory is bounded whatever the number of records.
//
//   ScannedRecordParser parser;
//   absl::StatusOr<const cit::v1::Record*> r = parser.Parse(view.body, vehicle_id, view.seq);
//   // *r is valid until the next Parse
//
// Thread contract: one scan (one thread) per parser.
#ifndef CIT_DISPATCH_SERVER_STORE_SCANNED_RECORD_PARSER_H_
#define CIT_DISPATCH_SERVER_STORE_SCANNED_RECORD_PARSER_H_

#include <google/protobuf/arena.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "cit/v1/telemetry.pb.h"

namespace cit::dispatch {

class ScannedRecordParser {
 public:
  ScannedRecordParser();

  // The body parsed; DATA_LOSS naming the record when it does not parse. The record lives until
  // the next call.
  absl::StatusOr<const cit::v1::Record*> Parse(std::string_view body, const std::string& vehicle_id,
                                               uint64_t seq);

 private:
  google::protobuf::Arena arena_;
  size_t parsed_ = 0;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_STORE_SCANNED_RECORD_PARSER_H_
