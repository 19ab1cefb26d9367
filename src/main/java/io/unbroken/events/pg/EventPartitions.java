package io.unbroken.events.pg;

import io.vertx.core.Future;
import io.vertx.pgclient.PgException;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Monthly partitions of {@code events}: created ahead of time, so rows never land in the default
 * partition (which would block creating the month's partition later), and dropped whole once older
 * than the retention, instead of deleting rows one by one. Safe to run from every node at once.
 */
final class EventPartitions {

  private static final Logger log = LoggerFactory.getLogger(EventPartitions.class);
  private static final Pattern NAME = Pattern.compile("events_y(\\d{4})m(\\d{2})");
  private static final String DUPLICATE_TABLE = "42P07";

  private final Pool pool;

  EventPartitions(Pool pool) {
    this.pool = pool;
  }

  static String nameOf(YearMonth month) {
    return String.format("events_y%04dm%02d", month.getYear(), month.getMonthValue());
  }

  /** Creates the partitions from this month to {@code monthsAhead} months ahead. */
  Future<Void> createAhead(Instant now, int monthsAhead) {
    YearMonth month = YearMonth.from(now.atZone(ZoneOffset.UTC));
    Future<Void> created = Future.succeededFuture();
    for (int i = 0; i <= monthsAhead; i++) {
      YearMonth target = month.plusMonths(i);
      created = created.compose(v -> create(target));
    }
    return created;
  }

  /** Where {@link #dropBefore} stops: every event recorded before this instant has been dropped. */
  static Instant droppedBefore(Instant cutoff) {
    return YearMonth.from(cutoff.atZone(ZoneOffset.UTC)).atDay(1).atStartOfDay(ZoneOffset.UTC).toInstant();
  }

  /** Drops partitions whose whole month ended before {@code cutoff}; returns the names dropped. */
  Future<List<String>> dropBefore(Instant cutoff) {
    YearMonth cutoffMonth = YearMonth.from(cutoff.atZone(ZoneOffset.UTC));
    return pool.query("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            + " WHERE i.inhparent = 'events'::regclass")
        .execute()
        .compose(rows -> {
          List<String> expired = new ArrayList<>();
          for (Row row : rows) {
            Matcher m = NAME.matcher(row.getString(0));
            if (m.matches() && YearMonth.of(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)))
                .isBefore(cutoffMonth)) {
              expired.add(row.getString(0));
            }
          }
          Future<Void> dropped = Future.succeededFuture();
          for (String name : expired) {
            dropped = dropped.compose(v -> pool.query("DROP TABLE IF EXISTS " + name).execute().mapEmpty());
          }
          return dropped.map(v -> expired);
        })
        .onSuccess(names -> names.forEach(name -> log.info("Dropped event partition {} (past retention)", name)));
  }

  private Future<Void> create(YearMonth month) {
    String sql = "CREATE TABLE IF NOT EXISTS " + nameOf(month) + " PARTITION OF events FOR VALUES FROM ('"
        + month.atDay(1) + "') TO ('" + month.plusMonths(1).atDay(1) + "')";
    return pool.query(sql).execute().<Void>mapEmpty()
        .recover(failure -> failure instanceof PgException pg && DUPLICATE_TABLE.equals(pg.getSqlState())
            ? Future.succeededFuture() // another node created it first
            : Future.failedFuture(failure));
  }
}
