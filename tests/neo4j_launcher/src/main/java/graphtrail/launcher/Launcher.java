package graphtrail.launcher;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.SettingValueParsers;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.harness.Neo4j;
import org.neo4j.harness.Neo4jBuilders;

/**
 * Starts a throwaway Neo4j (Neo4j's test harness, authentication off) with Bolt on 127.0.0.1, prints its
 * Bolt URI on stdout once it accepts connections, and stops when stdin closes or on SIGTERM.
 *
 * <p>Usage: {@code java -jar neo4j-launcher.jar [PORT]}; port 0 (the default) lets the system pick a free one.
 * Logs go to stderr and to the harness's temporary folder, which is deleted on shutdown.
 */
public final class Launcher {
    private Launcher() {}

    public static void main(String[] args) throws Exception {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 0;
        PrintStream stdout = System.out;
        System.setOut(System.err); // only the URI goes to stdout: whoever started us reads it from there

        Path work = Files.createTempDirectory("graphtrail-neo4j-");
        Neo4j neo4j = Neo4jBuilders.newInProcessBuilder(work)
                .withDisabledServer()
                .withConfig(BoltConnector.enabled, true)
                .withConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .withConfig(HttpConnector.enabled, false)
                .withConfig(GraphDatabaseSettings.auth_enabled, false)
                // The harness's test default is an 8 MiB page cache: every load then evicts and rereads store
                // pages. A server sized like a real one keeps a case's store in memory.
                .withConfig(GraphDatabaseSettings.pagecache_memory, SettingValueParsers.BYTES.parse(pageCache()))
                .withConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                .build();

        CountDownLatch stop = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            stop.countDown();
            close(neo4j, work);
        }, "graphtrail-neo4j-shutdown");
        Runtime.getRuntime().addShutdownHook(hook); // SIGTERM, SIGINT

        stdout.println(neo4j.boltURI());
        stdout.flush();

        Thread stdinWatch = new Thread(() -> {
            try (InputStream in = System.in) {
                byte[] buffer = new byte[256];
                while (in.read(buffer) >= 0) {
                    // anything written is ignored; end of input means the parent is gone
                }
            } catch (IOException ignored) {
                // a broken stdin is an ended stdin
            }
            stop.countDown();
        }, "graphtrail-neo4j-stdin");
        stdinWatch.setDaemon(true);
        stdinWatch.start();

        stop.await();
        System.exit(0); // runs the shutdown hook, which closes Neo4j exactly once
    }

    /** NEO4J_PAGECACHE (e.g. 512m, 2g) or 512 MiB; memory is only taken as pages are used. */
    private static String pageCache() {
        String size = System.getenv("NEO4J_PAGECACHE");
        return size == null || size.isBlank() ? "512m" : size.trim();
    }

    private static synchronized void close(Neo4j neo4j, Path work) {
        try {
            neo4j.close();
        } catch (RuntimeException e) {
            System.err.println("neo4j-launcher: error while stopping Neo4j: " + e);
        }
        deleteQuietly(work);
    }

    private static void deleteQuietly(Path root) {
        try (var paths = Files.walk(root)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a temporary folder left behind is harmless
        }
    }
}
