//! Kafka is a real broker that keeps each key's messages in one partition, in order.

use std::collections::HashMap;
use std::time::Duration;

use gavel_tests::{stack_settings, unique_name};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;

#[tokio::test]
async fn keyed_messages_keep_their_partition_and_order() {
    let settings = stack_settings();
    let topic = format!("{}.listing", unique_name("topics"));
    gavel_bus::ensure_topics(&settings.kafka_brokers, std::slice::from_ref(&topic), 3)
        .await
        .unwrap();
    // Creating it again is not an error.
    gavel_bus::ensure_topics(&settings.kafka_brokers, std::slice::from_ref(&topic), 3)
        .await
        .unwrap();

    let producer: FutureProducer = gavel_bus::client_config(&settings.kafka_brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()
        .unwrap();
    let keys = ["listing-a", "listing-b", "listing-c", "listing-d"];
    let mut sent: HashMap<&str, Vec<u32>> = HashMap::new();
    for sequence in 1..=25u32 {
        for key in keys {
            let payload = sequence.to_string();
            let delivery = producer
                .send(
                    FutureRecord::to(&topic).key(key).payload(&payload).headers(
                        OwnedHeaders::new().insert(Header {
                            key: "sequence",
                            value: Some(&payload),
                        }),
                    ),
                    Duration::from_secs(10),
                )
                .await
                .map_err(|(e, _)| e)
                .unwrap();
            assert!((0..3).contains(&delivery.partition));
            sent.entry(key).or_default().push(sequence);
        }
    }

    let consumer: StreamConsumer = gavel_bus::client_config(&settings.kafka_brokers)
        .set("group.id", unique_name("group"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[&topic]).unwrap();

    let total = keys.len() * 25;
    let mut received: HashMap<String, Vec<(i32, u32)>> = HashMap::new();
    let consume_all = async {
        for _ in 0..total {
            let message = consumer.recv().await.unwrap();
            let key = String::from_utf8(message.key().unwrap().to_vec()).unwrap();
            let value: u32 = std::str::from_utf8(message.payload().unwrap())
                .unwrap()
                .parse()
                .unwrap();
            let header = message.headers().unwrap().get(0);
            assert_eq!(header.key, "sequence");
            assert_eq!(header.value, Some(value.to_string().as_bytes()));
            received
                .entry(key)
                .or_default()
                .push((message.partition(), value));
        }
    };
    tokio::time::timeout(Duration::from_secs(60), consume_all)
        .await
        .expect("every message consumed within 60 s");

    for key in keys {
        let got = &received[key];
        let partitions: std::collections::HashSet<i32> = got.iter().map(|(p, _)| *p).collect();
        assert_eq!(partitions.len(), 1, "{key} was spread over {partitions:?}");
        let order: Vec<u32> = got.iter().map(|(_, v)| *v).collect();
        assert_eq!(order, sent[key], "{key} arrived out of order");
    }
}

#[tokio::test]
async fn the_broker_is_the_local_kafka() {
    let settings = stack_settings();
    let probe = gavel_bus::ReadinessProbe::new(&settings.kafka_brokers).unwrap();
    probe.check(Duration::from_secs(10)).await.unwrap();
}
