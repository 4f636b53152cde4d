//! Labels on everything the crate creates, so a sweep finds leftovers of crashed runs.

use std::collections::HashMap;

/// Present (`true`) on every image, container and network otrashi creates.
pub const OTRASHI: &str = "otrashi";
/// The episode a container or network belongs to.
pub const EPISODE: &str = "otrashi.episode";

/// Labels of an image: not tied to an episode, images are shared and cached.
pub fn image_labels() -> HashMap<String, String> {
    HashMap::from([(OTRASHI.to_owned(), "true".to_owned())])
}

/// Labels of a container or network of `episode`.
pub fn episode_labels(episode: &str) -> HashMap<String, String> {
    HashMap::from([
        (OTRASHI.to_owned(), "true".to_owned()),
        (EPISODE.to_owned(), episode.to_owned()),
    ])
}

/// Engine list filters selecting otrashi's resources, of one episode or all.
pub fn filters(episode: Option<&str>) -> HashMap<String, Vec<String>> {
    let mut labels = vec![format!("{OTRASHI}=true")];
    if let Some(id) = episode {
        labels.push(format!("{EPISODE}={id}"));
    }
    HashMap::from([("label".to_owned(), labels)])
}
