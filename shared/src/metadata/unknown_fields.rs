//! One-pass `Deserialize` for metadata structs that keep unknown fields in `extra`.
//!
//! `#[serde(flatten)]` keeps them too, but serde implements it by buffering the whole object
//! into its private content tree and deserializing the struct from that copy. On a targets
//! role the buffered object is the whole `targets` map, so a 100k-target file was built twice
//! over, and every entry (itself flattened) twice again. The macro below writes the visitor
//! `derive` would write without flatten: known keys go to their fields as they are read
//! (matched without allocating), anything else to `extra`.
//!
//! Behaviour kept from the derived form: missing required fields and repeated fields are
//! errors with serde's messages; fields marked `default` may be absent; only JSON objects are
//! accepted. Serialisation still uses `derive(Serialize)` with `flatten`, which does not buffer.

use std::fmt;

use serde::de::{self, DeserializeSeed, Visitor};

/// Reads an object key: the matching name from `known`, or the key itself, owned.
pub(super) struct FieldName(pub &'static [&'static str]);

impl<'de> DeserializeSeed<'de> for FieldName {
    type Value = Result<&'static str, String>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for FieldName {
    type Value = Result<&'static str, String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self
            .0
            .iter()
            .find(|k| **k == key)
            .copied()
            .ok_or_else(|| key.to_owned()))
    }
}

/// `impl Deserialize for $ty`: `{ field: "json name" [= default], ... }`; the struct's
/// remaining field `extra: Extra` receives every other key. `$ty` may take one type parameter
/// (`Targets<E>`), which must then be deserializable.
macro_rules! deserialize_keeping_unknown {
    ($ty:ident $(<$g:ident>)?, $expecting:literal, { $($field:ident : $key:literal $(= $default:ident)?),+ $(,)? }) => {
        impl<'de $(, $g: serde::Deserialize<'de>)?> serde::Deserialize<'de> for $ty $(<$g>)? {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct FieldsVisitor $(<$g>)? ($(std::marker::PhantomData<$g>)?);
                impl<'de $(, $g: serde::Deserialize<'de>)?> serde::de::Visitor<'de> for FieldsVisitor $(<$g>)? {
                    type Value = $ty $(<$g>)?;

                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str($expecting)
                    }

                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<Self::Value, A::Error> {
                        use serde::de::Error as _;
                        const KNOWN: &[&str] = &[$($key),+];
                        $(let mut $field = None;)+
                        let mut extra = std::collections::BTreeMap::new();
                        while let Some(key) = map.next_key_seed(
                            $crate::metadata::unknown_fields::FieldName(KNOWN),
                        )? {
                            match key {
                                $(Ok($key) => {
                                    if $field.is_some() {
                                        return Err(A::Error::duplicate_field($key));
                                    }
                                    $field = Some(map.next_value()?);
                                })+
                                Ok(_) => unreachable!("every known name has an arm"),
                                Err(other) => {
                                    let value = map.next_value()?;
                                    if extra.contains_key(&other) {
                                        return Err(A::Error::custom(format_args!(
                                            "duplicate field `{other}`"
                                        )));
                                    }
                                    extra.insert(other, value);
                                }
                            }
                        }
                        Ok(Self::Value {
                            $($field: match $field {
                                Some(v) => v,
                                None => $crate::metadata::unknown_fields::deserialize_keeping_unknown!(@absent $key $(, $default)?),
                            },)+
                            extra,
                        })
                    }
                }
                d.deserialize_map(FieldsVisitor($(std::marker::PhantomData::<$g>)?))
            }
        }
    };
    (@absent $key:literal, default) => {
        Default::default()
    };
    (@absent $key:literal) => {
        return Err(A::Error::missing_field($key))
    };
}

pub(super) use deserialize_keeping_unknown;
