#pragma once
/// The stub providers' OpenAI-style chat completion (bus command provider.completion.v1): token
/// counts simulated deterministically from the messages, the reply cut at the completion limit, and
/// a simulated stream (chunks, pause per chunk, mid-stream failure).

#include <chrono>
#include <string_view>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "lt/providers/providers.hpp"
#include "providers_config.hpp"

namespace lt::providers {

/// The text of one OpenAI message's `content`: a string as is; an array of parts: the `text` of its
/// text parts, other parts serialized; anything else serialized ("" for null/absent).
std::string message_text(const boost::json::value& content);

/// Simulated prompt tokens of `messages`: per message ceil(bytes of role + content text / 4) + 3,
/// plus 3. Never more than bytes of the texts + 4 per message + 3 (the gateway's estimate relies on it).
long long stub_prompt_tokens(const boost::json::array& messages);

/// The reply of kCompletion for `request` (see providers.hpp). The natural completion length
/// is 8 + (FNV-1a of the texts mod 25) tokens, one word each; cut at `max_tokens` → finish_reason
/// "length". `fail_draw` in [0, 1): the stream breaks off when it is below the stream failure rate.
CompletionReply stub_completion(const ProviderSettings& s, const CompletionRequest& request,
                                std::chrono::system_clock::time_point now, double fail_draw);

}  // namespace lt::providers
