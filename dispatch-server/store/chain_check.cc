#include "dispatch-server/store/chain_check.h"

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace cit::dispatch {

std::string DescribeProtoDifference(const google::protobuf::Message& logged,
                                    const google::protobuf::Message& current) {
  google::protobuf::util::MessageDifferencer differ;
  std::string report;
  differ.ReportDifferencesToString(&report);
  if (differ.Compare(logged, current)) return "";
  // One line per difference, "modified: actions[0].actor: \"olga\" -> \"aude\"".
  std::string out;
  size_t start = 0;
  int lines = 0;
  while (start < report.size() && lines < 3) {
    size_t end = report.find('\n', start);
    if (end == std::string::npos) end = report.size();
    if (!out.empty()) out += "; ";
    out += report.substr(start, end - start);
    start = end + 1;
    ++lines;
  }
  if (out.size() > 400) out = out.substr(0, 400) + "...";
  return out;
}

ChainWalk::ChainWalk(std::string chain, std::vector<ChainAnchor> anchors)
    : anchors_(std::move(anchors)) {
  report_.chain = std::move(chain);
  std::stable_sort(anchors_.begin(), anchors_.end(),
                   [](const ChainAnchor& a, const ChainAnchor& b) { return a.length < b.length; });
  for (const ChainAnchor& a : anchors_) {
    report_.checkpoint_id = std::max(report_.checkpoint_id, a.checkpoint_id);
  }
}

void ChainWalk::StartAfter(uint64_t position, const std::string& head) {
  report_.first_position = position;
  head_ = head;
  last_matched_ = position;
  while (next_anchor_ < anchors_.size() && anchors_[next_anchor_].length <= position) {
    ++next_anchor_;
  }
}

void ChainWalk::Step(uint64_t position, const std::string& head) {
  head_ = head;
  report_.entries_checked = position - report_.first_position;
  while (next_anchor_ < anchors_.size() && anchors_[next_anchor_].length <= position) {
    const ChainAnchor& a = anchors_[next_anchor_++];
    if (a.length != position) continue;  // an empty chain's head (length 0): nothing to compare
    if (a.head == head) {
      if (!mismatch_) last_matched_ = position;
    } else if (!mismatch_) {
      mismatch_ = std::make_pair(position, last_matched_);
      mismatch_anchor_ = &a;
    }
  }
}

void ChainWalk::Fail(uint64_t position, std::string name, std::string problem,
                     std::optional<uint64_t> seq) {
  if (!report_.intact && report_.first_bad_index <= position) return;
  report_.intact = false;
  report_.first_bad_index = position;
  report_.first_bad = std::move(name);
  report_.problem = std::move(problem);
  report_.first_bad_seq = seq;
}

ChainReport ChainWalk::Finish(
    uint64_t length,
    const std::function<std::string(uint64_t, uint64_t, const ChainAnchor&)>& name_missing) {
  report_.length = length;
  report_.head = head_;
  if (mismatch_) {
    const auto [position, matched] = *mismatch_;
    Fail(matched + 1,
         matched + 1 == position
             ? absl::StrCat("entry at chain position ", position)
             : absl::StrCat("entries at chain positions ", matched + 1, "..", position),
         absl::StrCat("the chain no longer matches signed checkpoint #",
                      mismatch_anchor_->checkpoint_id, " at position ", position,
                      ": entries were changed and the chain recomputed without the signing key"));
  }
  if (report_.intact) {
    // Entries a checkpoint listed that are no longer there (tail cut, all deleted).
    const ChainAnchor* longest = nullptr;
    for (const ChainAnchor& a : anchors_) {
      if (a.length > length && (longest == nullptr || a.length >= longest->length)) longest = &a;
    }
    if (longest != nullptr) {
      Fail(length + 1, name_missing(length + 1, longest->length, *longest),
           absl::StrCat(length == 0 ? "every entry is gone: " : "missing after position ",
                        length == 0 ? "" : absl::StrCat(length, ": "), "signed checkpoint #",
                        longest->checkpoint_id, " lists ", longest->length, " entries, ", length,
                        " remain"));
    }
  }
  return report_;
}

}  // namespace cit::dispatch
