//! One line for an error and every cause behind it.
//!
//! Client libraries (reqwest, the AWS SDK) put the useful part of a failure in the source
//! chain: "error sending request" says little, "…: connection refused" says why. Every
//! consul-ecs message that reports such an error goes through [`error_chain`], so the text
//! has one shape everywhere.

#![deny(missing_docs)]

/// `error: cause: cause…`. A cause whose text the line already holds is left out, since
/// many libraries repeat their source in their own message.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !cause_text.is_empty() && !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::error_chain;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn every_cause_is_joined_once() {
        let err = Layer(
            "error sending request",
            Some(Box::new(Layer(
                "client error (Connect)",
                Some(Box::new(Layer("connection refused", None))),
            ))),
        );
        assert_eq!(
            error_chain(&err),
            "error sending request: client error (Connect): connection refused"
        );
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let err = Layer(
            "dispatch failure: timed out",
            Some(Box::new(Layer("timed out", None))),
        );
        assert_eq!(error_chain(&err), "dispatch failure: timed out");
    }
}
