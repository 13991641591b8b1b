// What verifying one hash chain found, and the comparison of a chain with the heads that signed
// checkpoints recorded for it. Shared by the record chains (record_chain_check.h), the plan log
// (plan_version_chain.h) and the alert-event log (alert_event_chain.h).
//
//   ChainWalk walk("plans", anchors);            // anchors: the chain's heads in checkpoints
//   for (each entry in chain order) {
//     if (stored hash differs) { walk.Fail(pos, "plan event 7 (run R v2 UPDATE)", "...");
//                                 break; }
//     walk.Step(pos, recomputed_head);           // compares with a checkpoint at `pos`
//   }
//   ChainReport report = walk.Finish();          // names the first broken entry, if any
//
// A chain can be internally consistent yet differ from a checkpoint (recomputed by someone
// without the signing key), or be shorter than a checkpoint says (tail cut, all entries
// deleted): Finish reports both against the checkpoint that proves it.
//
// Thread contract: a ChainWalk belongs to one thread.
#ifndef CIT_DISPATCH_STORE_CHAIN_CHECK_H_
#define CIT_DISPATCH_STORE_CHAIN_CHECK_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace google::protobuf {
class Message;
}

namespace cit::dispatch {

// "" when equal, else the first differences (field paths with both values), shortened.
std::string DescribeProtoDifference(const google::protobuf::Message& logged,
                                    const google::protobuf::Message& current);

// The head of one chain as a signed checkpoint recorded it.
struct ChainAnchor {
  uint64_t checkpoint_id = 0;
  uint64_t length = 0;
  std::string head;  // 32 bytes
  // Records only: seq at `length` and the contiguous watermark then.
  uint64_t last_seq = 0;
  uint64_t contiguous_seq = 0;
};

struct ChainReport {
  std::string chain;  // "records/<vehicle>", "plans", "alerts"
  bool intact = true;
  uint64_t entries_checked = 0;
  uint64_t length = 0;  // chain position the walk reached
  // A walk over part of the chain starts after this position (its head from a checkpoint);
  // 0 for a walk from the genesis.
  uint64_t first_position = 0;
  std::string head;  // recomputed head (32 bytes; empty for an empty chain)
  // The first broken entry, for people, and its chain position (or seq for records).
  std::string first_bad;
  uint64_t first_bad_index = 0;
  std::optional<uint64_t> first_bad_seq;  // records
  std::string problem;
  // Newest checkpoint listing this chain (0: none).
  uint64_t checkpoint_id = 0;
};

class ChainWalk {
 public:
  // `anchors` in any order; several checkpoints may list the same length.
  ChainWalk(std::string chain, std::vector<ChainAnchor> anchors);

  // A walk over part of the chain: the entries after `position`, whose head `head` came from a
  // signed checkpoint. Call before the first Step.
  void StartAfter(uint64_t position, const std::string& head);
  // Entry `position` (1-based) verified internally; `head` is h_position.
  void Step(uint64_t position, const std::string& head);
  // The entry at `position` is broken; the first call wins (later ones are ignored).
  void Fail(uint64_t position, std::string name, std::string problem,
            std::optional<uint64_t> seq = std::nullopt);
  bool failed() const { return !report_.intact; }

  // The earliest checkpoint mismatch seen so far, if any: its position and the last position
  // that still matched a checkpoint (0 if none). Used to name the entry more exactly (a seq
  // missing below the mismatch) before Finish.
  std::optional<std::pair<uint64_t, uint64_t>> mismatch() const { return mismatch_; }
  const ChainAnchor* mismatch_anchor() const { return mismatch_anchor_; }

  // Ends the walk after `length` entries. `name_missing(first, last)` names entries missing at
  // positions first..last against the anchor that lists them (e.g. "records after seq 30").
  ChainReport Finish(uint64_t length,
                     const std::function<std::string(uint64_t first, uint64_t last,
                                                     const ChainAnchor& anchor)>& name_missing);

 private:
  ChainReport report_;
  std::vector<ChainAnchor> anchors_;  // ascending length
  size_t next_anchor_ = 0;
  uint64_t last_matched_ = 0;
  std::string head_;
  std::optional<std::pair<uint64_t, uint64_t>> mismatch_;
  const ChainAnchor* mismatch_anchor_ = nullptr;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_CHAIN_CHECK_H_
