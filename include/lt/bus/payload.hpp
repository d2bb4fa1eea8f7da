#pragma once
/// Payload: the body of a bus message. In one process it holds the sender's C++ value (a DTO), moved to
/// the receiver without any encoding; its JSON form is computed only when bytes leave the process (the
/// remote transport, the event log) or when the codec check asks for it. A payload that came from the
/// wire holds JSON only and is decoded into the receiver's DTO by its codec (Boost.JSON
/// value_from/value_to, declared next to the DTO in the owning module's contract header).

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>

#include "lt/core/result.hpp"

namespace lt::bus {

namespace json = boost::json;

/// Decodes `v` into T with T's codec. Errc::invalid_argument carrying the codec's reason (e.g.
/// "userId is missing") when it does not fit. Any thread.
template <class T>
Result<T> decode(const json::value& v) {
    try {
        return json::value_to<T>(v);
    } catch (const std::exception& e) {
        return fail(Errc::invalid_argument, e.what());
    }
}

/// Encodes `v` with T's codec. Any thread.
template <class T>
json::value encode(const T& v) {
    return json::value_from(v);
}

class Payload {
public:
    /// A JSON null body.
    Payload() = default;
    /// A body in its wire form (received from another process, or a test's raw message).
    Payload(json::value v) : json_(std::move(v)) {}  // NOLINT(google-explicit-constructor): JSON is a payload

    /// A body holding the C++ value `value` (encoded only when needed).
    template <class T>
    static Payload of(T value) {
        if constexpr (std::is_same_v<T, json::value>) {
            return Payload(std::move(value));
        } else {
            Payload p;
            p.json_.reset();
            p.typed_ = std::make_shared<Typed<T>>(std::move(value));
            return p;
        }
    }

    /// True when this payload holds a C++ value of type T (no decode needed).
    template <class T>
    bool holds() const {
        return typed_ && typed_->type() == typeid(T);
    }

    /// The JSON form: encoded from the C++ value on first use (cached in this object; not to be called
    /// concurrently on the same object — each event consumer group gets its own copy).
    const json::value& json() const {
        if (!json_) json_ = typed_->encode();
        return *json_;
    }

    /// The body as T: the held value itself when it is a T (moved out when this payload is its only
    /// owner, copied otherwise), else decoded from JSON by T's codec. `what` names the message in errors.
    template <class T>
    Result<T> take(std::string_view what) && {
        if constexpr (std::is_same_v<T, json::value>) {
            return json_value();
        } else {
            if (holds<T>()) {
                auto* t = static_cast<Typed<T>*>(typed_.get());
                if (typed_.use_count() == 1) return std::move(t->value);
                return t->value;
            }
            auto r = decode<T>(json());
            if (!r) return fail(Errc::invalid_argument, std::string(what) + ": " + r.error().message);
            return r;
        }
    }

    /// The codec check: encodes this payload, serializes and parses it as the remote transport does,
    /// and decodes it again. Errc::internal when the decoded value differs from the original (a field
    /// its codec loses) or does not decode. The result holds what a receiver in another process would
    /// get. Any thread (on a payload not shared with another thread).
    Result<Payload> round_trip(std::string_view what) const;

private:
    struct Holder {
        virtual ~Holder() = default;
        virtual const std::type_info& type() const = 0;
        virtual json::value encode() const = 0;
        /// Decodes `wire` into a new holder of the same type; fails when it differs from this value.
        virtual Result<std::shared_ptr<Holder>> decode_same(const json::value& wire) const = 0;
    };

    template <class T>
    struct Typed final : Holder {
        explicit Typed(T v) : value(std::move(v)) {}
        const std::type_info& type() const override { return typeid(T); }
        json::value encode() const override { return json::value_from(value); }
        Result<std::shared_ptr<Holder>> decode_same(const json::value& wire) const override {
            auto decoded = bus::decode<T>(wire);
            if (!decoded) return fail(Errc::internal, "does not decode: " + decoded.error().message);
            if constexpr (std::equality_comparable<T>) {
                if (!(*decoded == value)) return fail(Errc::internal, "changes through its codec (a field is lost)");
            } else {
                if (json::value_from(*decoded) != wire) {
                    return fail(Errc::internal, "changes through its codec (a field is lost)");
                }
            }
            return std::shared_ptr<Holder>(std::make_shared<Typed<T>>(std::move(*decoded)));
        }
        T value;
    };

    json::value json_value() const { return json(); }

    std::shared_ptr<Holder> typed_;            ///< the C++ value (shared by event consumer groups; never mutated while shared)
    mutable std::optional<json::value> json_{json::value()};  ///< the JSON form, when known
};

}  // namespace lt::bus
