//! `capabilities!`: from the one list of capabilities, [`super::ALL`] and the grant types an
//! instance's config is read into.

/// Lists the capabilities: those every instance has, those granted under `grants:`, and those
/// granted by keys at the instance's top level (Datadog's layout). The order is the order of
/// `ALL`, of the problems reported and of the lines describing the grants.
macro_rules! capabilities {
    (
        always { $($always:expr),* $(,)? }
        grants { $($g:ident: $G:ty),* $(,)? }
        instance { $($i:ident: $I:ty),* $(,)? }
    ) => {
        /// Every capability, in the order grants are checked.
        pub static ALL: &[&Capability] = &[
            $(&$always,)*
            $(&<$G as Grantable>::CAPABILITY,)*
            $(&<$I as Grantable>::CAPABILITY,)*
        ];

        /// `grants:` of an instance, as written.
        #[derive(Debug, Clone, Default, serde::Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct GrantsConfig {
            $(
                #[doc = concat!("`grants.", stringify!($g), "`.")]
                pub $g: <$G as Grantable>::Config,
            )*
        }

        /// The capabilities' keys at one instance's top level, as written.
        #[derive(Debug, Clone, Default)]
        pub struct InstanceKeys {
            $(
                #[doc = concat!("The keys of `", stringify!($i), "`.")]
                pub $i: <$I as Grantable>::Config,
            )*
        }

        impl InstanceKeys {
            /// Each instance's keys, read capability by capability so that an error names its
            /// field (`instances[0].exec`).
            pub(crate) fn read(
                document: &crate::config::Document<'_>,
                count: usize,
            ) -> Result<Vec<Self>, crate::config::ConfigError> {
                let mut all: Vec<Self> = (0..count).map(|_| Self::default()).collect();
                $(
                    let each = document.parse::<$crate::capabilities::registry::Each<<$I as Grantable>::Config>>()?;
                    for (keys, config) in all.iter_mut().zip(each.instances) {
                        keys.$i = config;
                    }
                )*
                Ok(all)
            }
        }

        /// What an instance may reach, validated.
        #[derive(Debug, Clone, Default)]
        pub struct Grants {
            $(
                #[doc = concat!("`grants.", stringify!($g), "`.")]
                pub $g: <$G as Grantable>::Granted,
            )*
            $(
                #[doc = concat!("The keys of `", stringify!($i), "`.")]
                pub $i: <$I as Grantable>::Granted,
            )*
        }

        impl Grants {
            /// Validates the written grants, reporting every problem as `(field, message)`.
            pub fn parse(
                grants: &GrantsConfig,
                keys: &InstanceKeys,
            ) -> Result<Self, Vec<(String, String)>> {
                let mut problems = Vec::new();
                let parsed = Self {
                    $($g: $crate::capabilities::registry::valid(<$G as Grantable>::parse(&grants.$g), &mut problems),)*
                    $($i: $crate::capabilities::registry::valid(<$I as Grantable>::parse(&keys.$i), &mut problems),)*
                };
                if problems.is_empty() { Ok(parsed) } else { Err(problems) }
            }

            /// One line per grant, for `configcheck`, `status` and `wasmon check`.
            pub fn describe(&self) -> Vec<String> {
                let mut lines = Vec::new();
                $(lines.extend(<$G as Grantable>::describe(&self.$g));)*
                $(lines.extend(<$I as Grantable>::describe(&self.$i));)*
                lines
            }
        }

        /// wasmon's keys at an instance's top level that capabilities read.
        pub const HOST_KEYS: &[&[&str]] = &[$(<$I as Grantable>::HOST_KEYS,)*];

        /// Keys at an instance's top level that capabilities read and checks never see.
        pub const SECRET_KEYS: &[&[&str]] = &[$(<$I as Grantable>::SECRET_KEYS,)*];
    };
}

pub(crate) use capabilities;

/// `instances:` of a check's config, each read as `T`.
#[derive(serde::Deserialize)]
#[serde(bound = "T: serde::de::DeserializeOwned")]
pub struct Each<T> {
    /// Every instance.
    pub instances: Vec<T>,
}

/// `parsed`, or its problems added to `problems` and the default in its place.
pub fn valid<T: Default>(
    parsed: Result<T, Vec<(String, String)>>,
    problems: &mut Vec<(String, String)>,
) -> T {
    parsed.unwrap_or_else(|found| {
        problems.extend(found);
        T::default()
    })
}
