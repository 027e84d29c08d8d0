//! Publishing and reading events against a real nats-server: batching, chunking, fencing, de-duplication,
//! continuation, live reading.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{assert_seqs, events, read_all, server_and_bus, session, test_config};
use futures::StreamExt;
use opcode_bus::{Bus, BusError, NumberedEvent};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_events_in_batches_read_back_from_zero_and_from_the_middle() {
    let (_server, bus) = server_and_bus().await;
    let session = session();
    let mut writer = bus.writer(&session).await.unwrap();
    assert_eq!(writer.next_seq(), 0);
    let all = events(0, 10_000, "w");
    for batch in all.chunks(128) {
        writer.publish(batch).await.unwrap();
    }
    assert_eq!(writer.next_seq(), 10_000);

    let read = read_all(&bus, &session, None).await;
    assert_seqs(&read, 0, 10_000);
    assert_eq!(read, all, "every line comes back as written");
    let middle = read_all(&bus, &session, Some(4_999)).await;
    assert_seqs(&middle, 5_000, 10_000);
    assert_eq!(middle[..], all[5_000..]);
    assert!(read_all(&bus, &session, Some(9_999)).await.is_empty(), "nothing after the last event");
    assert!(read_all(&bus, &common::session(), None).await.is_empty(), "a session without events reads empty");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_of_3_mb_is_chunked_and_read_back_whole() {
    let (_server, bus) = server_and_bus().await;
    let session = session();
    let mut writer = bus.writer(&session).await.unwrap();
    let big: Vec<u8> = (0..3 * 1024 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
    let batch = vec![
        NumberedEvent::new(0, "before"),
        NumberedEvent::new(1, Bytes::from(big.clone())),
        NumberedEvent::new(2, "after"),
    ];
    writer.publish(&batch).await.unwrap();
    assert_eq!(writer.next_seq(), 3);
    let read = read_all(&bus, &session, None).await;
    assert_seqs(&read, 0, 3);
    assert_eq!(read[1].line.len(), big.len());
    assert!(read[1].line == big, "the large line is reassembled byte for byte");
    assert_eq!(read, batch);
    // a reader starting after the large line, and a writer continuing after it
    assert_eq!(read_all(&bus, &session, Some(1)).await, batch[2..]);
    assert_eq!(bus.writer(&session).await.unwrap().next_seq(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_writer_is_fenced_and_the_stream_has_no_gap_or_duplicate() {
    let (_server, bus) = server_and_bus().await;
    let session = session();
    let mut first = bus.writer(&session).await.unwrap();
    let mut second = bus.writer(&session).await.unwrap();
    first.publish(&events(0, 10, "first")).await.unwrap();

    // the second writer saw an empty subject: stale, fenced, and stays fenced
    let err = second.publish(&events(0, 10, "second")).await.unwrap_err();
    assert!(matches!(err, BusError::Fenced { .. }), "{err}");
    assert!(err.to_string().contains("fenced out"), "{err}");
    assert!(second.is_fenced());
    assert!(matches!(second.publish(&events(0, 1, "second")).await, Err(BusError::Fenced { .. })));

    // a third writer takes over where the stream stands; the first is now stale and fenced
    let mut third = bus.writer(&session).await.unwrap();
    assert_eq!(third.next_seq(), 10);
    third.publish(&events(10, 20, "third")).await.unwrap();
    let err = first.publish(&events(10, 20, "first")).await.unwrap_err();
    assert!(matches!(err, BusError::Fenced { .. }), "{err}");

    let read = read_all(&bus, &session, None).await;
    assert_seqs(&read, 0, 20);
    let mut expected = events(0, 10, "first");
    expected.extend(events(10, 20, "third"));
    assert_eq!(read, expected, "only the winners' lines are stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_publish_with_the_same_message_id_is_deduplicated() {
    let (_server, bus) = server_and_bus().await;
    let session = session();
    let mut writer = bus.writer(&session).await.unwrap();
    writer.publish(&events(0, 5, "w")).await.unwrap();
    // the ack was "lost": the writer sends the same message again (same id, same expected sequence)
    assert!(writer.resend_last().await.unwrap(), "the server recognised the retry as a duplicate");
    writer.publish(&events(5, 8, "w")).await.unwrap();
    assert!(writer.resend_last().await.unwrap());
    assert_eq!(read_all(&bus, &session, None).await, events(0, 8, "w"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_on_a_session_with_events_continues_its_numbering() {
    let (_server, bus) = server_and_bus().await;
    let session = session();
    bus.writer(&session).await.unwrap().publish(&events(0, 7, "one")).await.unwrap();
    // another process (its own connection), as a resumed session on another machine
    let elsewhere = Bus::connect(&_server.url(), test_config()).await.unwrap();
    let mut writer = elsewhere.writer(&session).await.unwrap();
    assert_eq!(writer.next_seq(), 7);
    let err = writer.publish(&events(3, 4, "two")).await.unwrap_err();
    assert!(matches!(err, BusError::NotContiguous { expected: 7, got: 3, .. }), "{err}");
    let mut holey = events(7, 9, "two");
    holey.extend(events(10, 11, "two"));
    assert!(matches!(writer.publish(&holey).await, Err(BusError::NotContiguous { expected: 9, got: 10, .. })));
    writer.publish(&events(7, 12, "two")).await.unwrap();
    let mut expected = events(0, 7, "one");
    expected.extend(events(7, 12, "two"));
    assert_eq!(read_all(&bus, &session, None).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_reader_sees_events_published_after_it_started() {
    let (_server, bus) = server_and_bus().await;
    let session = session();
    let mut writer = bus.writer(&session).await.unwrap();
    writer.publish(&events(0, 3, "w")).await.unwrap();
    let mut reader = Box::pin(bus.read(&session, Some(0)));
    let mut next =
        async || tokio::time::timeout(Duration::from_secs(10), reader.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(next().await.seq, 1);
    assert_eq!(next().await.seq, 2);
    for from in [3, 50] {
        writer.publish(&events(from, from + 47, "w")).await.unwrap();
        for seq in from..from + 47 {
            assert_eq!(next().await, events(seq, seq + 1, "w")[0]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_nothing_written() {
    let (_server, bus) = server_and_bus().await;
    assert!(matches!(bus.writer("a.b").await, Err(BusError::InvalidSession(_))));
    assert!(matches!(bus.writer("").await, Err(BusError::InvalidSession(_))));
    assert!(matches!(bus.claim_run("s", "w*").await, Err(BusError::InvalidWorker(_))));
    let session = session();
    let mut writer = bus.writer(&session).await.unwrap();
    let err = writer.publish(&[NumberedEvent::new(0, "a\nb")]).await.unwrap_err();
    assert!(matches!(err, BusError::LineWithNewline { seq: 0, .. }), "{err}");
    let err = writer.publish(&events(1, 2, "w")).await.unwrap_err();
    assert!(matches!(err, BusError::NotContiguous { expected: 0, got: 1, .. }), "{err}");
    assert!(read_all(&bus, &session, None).await.is_empty());
    let read: Vec<_> = bus.read_to_end("no.such", None).collect().await;
    assert!(matches!(read[..], [Err(BusError::InvalidSession(_))]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_to_a_dead_port_fails_quickly_with_the_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("nats://127.0.0.1:{port}");
    let config = opcode_bus::BusConfig { connect_timeout: Duration::from_secs(2), ..test_config() };
    let started = tokio::time::Instant::now();
    let err = Bus::connect(&url, config).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10), "gave up after {:?}", started.elapsed());
    assert!(matches!(err, BusError::Connect { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains(&url) && message.contains("nats-server"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_gone_fails_publishing_clearly_and_both_sides_recover_when_it_is_back() {
    let mut server = opcode_testkit::nats::NatsServer::start().await;
    let config = opcode_bus::BusConfig { publish_timeout: Duration::from_secs(2), ..test_config() };
    let bus = Bus::connect(&server.url(), config).await.unwrap();
    let session = session();
    let mut writer = bus.writer(&session).await.unwrap();
    writer.publish(&events(0, 5, "w")).await.unwrap();
    let mut reader = Box::pin(bus.read(&session, None));
    for seq in 0..5 {
        assert_eq!(reader.next().await.unwrap().unwrap().seq, seq);
    }

    server.stop().await;
    let started = tokio::time::Instant::now();
    let err = writer.publish(&events(5, 10, "w")).await.unwrap_err();
    assert!(matches!(err, BusError::Unavailable { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10), "gave up after {:?}", started.elapsed());
    assert_eq!(writer.next_seq(), 5, "nothing counted as published");

    // back (same store): the same batch again is stored once, and the live reader goes on
    server.restart().await;
    let retry = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match writer.publish(&events(5, 10, "w")).await {
                Err(BusError::Unavailable { .. }) => continue,
                other => break other,
            }
        }
    });
    retry.await.expect("publishing recovered").unwrap();
    for seq in 5..10 {
        let event = tokio::time::timeout(Duration::from_secs(60), reader.next()).await.unwrap().unwrap().unwrap();
        assert_eq!(event.seq, seq);
    }
    assert_eq!(read_all(&bus, &session, None).await, events(0, 10, "w"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_from_any_seq_finds_its_place_among_other_sessions_and_chunks() {
    let server = opcode_testkit::nats::NatsServer::start().await;
    // small messages: a couple of lines each, and every tenth line chunked
    let config = opcode_bus::BusConfig { max_message_bytes: 64, ..test_config() };
    let bus = Bus::connect(&server.url(), config).await.unwrap();
    let (session, other) = (session(), common::session());
    let all: Vec<NumberedEvent> = (0..200u64)
        .map(|seq| {
            let line = if seq % 10 == 3 { format!("{seq}:{}", "x".repeat(150)) } else { format!("line {seq}") };
            NumberedEvent::new(seq, line)
        })
        .collect();
    let (mut writer, mut noise) = (bus.writer(&session).await.unwrap(), bus.writer(&other).await.unwrap());
    let mut published = 0;
    for (i, size) in [1usize, 2, 5, 1, 7, 3].iter().cycle().enumerate() {
        if published >= all.len() {
            break;
        }
        let end = (published + size).min(all.len());
        writer.publish(&all[published..end]).await.unwrap();
        noise.publish(&events(i as u64, i as u64 + 1, "noise")).await.unwrap();
        published = end;
    }
    for since in [0u64, 1, 2, 3, 4, 12, 13, 50, 102, 103, 104, 150, 198, 199, 250] {
        let read = read_all(&bus, &session, Some(since)).await;
        let from = (since as usize + 1).min(all.len());
        assert_eq!(read, all[from..], "reading after seq {since}");
    }
    // live from the end
    let mut live = Box::pin(bus.read(&session, Some(199)));
    writer.publish(&[NumberedEvent::new(200, "new")]).await.unwrap();
    let event = tokio::time::timeout(Duration::from_secs(10), live.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(event, NumberedEvent::new(200, "new"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_ups_of_a_short_session_take_no_consumer_and_a_long_one_reads_on_with_one() {
    let (_server, bus) = server_and_bus().await;
    let (short, long) = (session(), session());
    let mut writer = bus.writer(&short).await.unwrap();
    for batch in events(0, 30, "short").chunks(3) {
        writer.publish(batch).await.unwrap(); // ten messages
    }
    // a thousand and a half viewers joining: more than the consumers a stream allows by default
    let reads = futures::stream::iter(0..1_500)
        .map(|i| {
            let bus = bus.clone();
            let short = short.clone();
            async move { read_all(&bus, &short, Some(i % 30)).await }
        })
        .buffered(32)
        .collect::<Vec<_>>()
        .await;
    for (i, read) in reads.iter().enumerate() {
        assert_seqs(read, (i % 30) as u64 + 1, 30);
    }
    assert_eq!(bus.stream_state().await.unwrap().consumers, 0, "the catch-ups of a short session made no consumer");

    let mut writer = bus.writer(&long).await.unwrap();
    let all = events(0, 1_000, "long");
    for batch in all.chunks(5) {
        writer.publish(batch).await.unwrap(); // two hundred messages
    }
    assert_eq!(read_all(&bus, &long, None).await, all);
    assert_eq!(bus.stream_state().await.unwrap().consumers, 1, "a long catch-up reads its rest with one consumer");
}
